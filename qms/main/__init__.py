"""The dashboard, the health check and the unit switch; routes in views.py."""
from flask import Blueprint

bp = Blueprint("main", __name__, template_folder="templates")

NAV = [("Dashboard", "main.dashboard", frozenset({"admin", "quality_manager", "auditor", "examiner",
                                                   "csi_officer", "viewer"}))]
