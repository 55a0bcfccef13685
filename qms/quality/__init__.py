"""The quality loop (ISO/IEC 17020 4.1, 7.5, 7.6, 8.5, 8.7): nonconformities from any source and their
corrective actions, complaints and appeals, impartiality risks, proficiency tests, management review,
the quality manual."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

bp = Blueprint("quality", __name__, template_folder="templates")

NAV: list[tuple[object, str, frozenset[str]]] = []  # pages come with the views
NAV.append((_l("Complaints"), "quality.complaint_list", frozenset({"quality_manager", "auditor", "examiner", "csi_officer", "viewer"})))  # noqa: E501
NAV.append((_l("Impartiality risks"), "quality.risk_list", frozenset({"quality_manager", "auditor", "examiner", "csi_officer", "viewer"})))  # noqa: E501
