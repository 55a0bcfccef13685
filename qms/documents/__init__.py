"""SOP document control (ISO/IEC 17020 clause 8.3): register, revisions, approval, acknowledgement."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

bp = Blueprint("documents", __name__, template_folder="templates")

_STAFF = frozenset({"quality_manager", "auditor", "examiner", "csi_officer", "viewer"})
NAV = [(_l("SOPs"), "documents.register", _STAFF)]
