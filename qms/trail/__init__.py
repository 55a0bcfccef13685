"""The audit trail; routes in views.py."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

bp = Blueprint("trail", __name__, template_folder="templates")

NAV = [(_l("Audit trail"), "trail.index", frozenset({"admin", "quality_manager", "auditor"}))]
