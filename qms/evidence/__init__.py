"""Evidence: cases, items, storage locations and the tamper-evident chain of custody; routes in views.py."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

bp = Blueprint("evidence", __name__, template_folder="templates")

# Custody is operational work: CSI officers and examiners act; quality managers and auditors read.
NAV = [
    (_l("Evidence"), "evidence.cases", frozenset({"csi_officer", "examiner", "quality_manager", "auditor"})),
    (_l("Custody check"), "evidence.verify_page", frozenset({"csi_officer", "examiner", "quality_manager", "auditor"})),
]
