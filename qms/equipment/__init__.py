"""Equipment (ISO/IEC 17020 6.2): register, calibration, checks, maintenance, derived status, impact reviews."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

bp = Blueprint("equipment", __name__, template_folder="templates")

_STAFF = frozenset({"quality_manager", "auditor", "examiner", "csi_officer", "viewer"})
NAV = [(_l("Equipment"), "equipment.register", _STAFF)]
