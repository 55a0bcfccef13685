"""The quality loop (ISO/IEC 17020 4.1, 7.5, 7.6, 8.5, 8.7): nonconformities from any source and their
corrective actions, complaints and appeals, impartiality risks, proficiency tests, management review,
the quality manual."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

bp = Blueprint("quality", __name__, template_folder="templates")

_STAFF = frozenset({"quality_manager", "auditor", "examiner", "csi_officer", "viewer"})
NAV: list[tuple[object, str, frozenset[str]]] = [
    (_l("Nonconformities"), "quality.nonconformities", _STAFF),
    (_l("Complaints"), "quality.complaint_list", _STAFF),
    (_l("Impartiality risks"), "quality.risk_list", _STAFF),
    (_l("Proficiency tests"), "quality.proficiency_list", _STAFF),
    (_l("Management review"), "quality.review_list", _STAFF),
    (_l("Quality manual"), "quality.manual_page", _STAFF),
]
