"""The dashboard, the health check and the unit switch; routes in views.py."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

bp = Blueprint("main", __name__, template_folder="templates")

NAV = [(_l("Dashboard"), "main.dashboard", frozenset({"admin", "quality_manager", "auditor", "examiner",
                                                   "csi_officer", "viewer"}))]
