"""Firearms intelligence: the register of seized, found, surrendered, stolen and lost firearms (3D-printed and
converted ones included), its status history, cross-matching into leads, and statistics."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

bp = Blueprint("firearms", __name__, template_folder="templates")

_STAFF = frozenset({"quality_manager", "auditor", "examiner", "csi_officer", "viewer"})
NAV = [(_l("Firearms"), "firearms.register", _STAFF)]
