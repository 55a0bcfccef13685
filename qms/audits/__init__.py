"""Audits against ISO/IEC 17020 (clause 8.6): programme, audits, checklists, results, findings, actions."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

bp = Blueprint("audits", __name__, template_folder="templates")

_STAFF = frozenset({"quality_manager", "auditor", "examiner", "csi_officer", "viewer"})
# Auditors and quality managers run audits; all staff see them and work on the actions they own.
NAV = [
    (_l("Audits"), "audits.audit_list", _STAFF),
    (_l("Actions"), "audits.action_list", _STAFF),
]
