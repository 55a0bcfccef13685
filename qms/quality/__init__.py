"""The quality loop (ISO/IEC 17020 4.1, 7.5, 7.6, 8.5, 8.7): nonconformities from any source and their
corrective actions, complaints and appeals, impartiality risks, proficiency tests, management review,
the quality manual."""
from flask import Blueprint

bp = Blueprint("quality", __name__, template_folder="templates")

NAV: list[tuple[object, str, frozenset[str]]] = []  # pages come with the views

from flask_babel import lazy_gettext as _l  # noqa: E402

_STAFF = frozenset({"quality_manager", "auditor", "examiner", "csi_officer", "viewer"})
NAV.append((_l("Proficiency tests"), "quality.proficiency_list", _STAFF))
NAV.append((_l("Management review"), "quality.review_list", _STAFF))
