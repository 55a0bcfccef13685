"""The audit trail; routes in views.py."""
from flask import Blueprint

bp = Blueprint("trail", __name__, template_folder="templates")

NAV = [("Audit trail", "trail.index", frozenset({"admin", "quality_manager", "auditor"}))]
