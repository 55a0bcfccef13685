"""Accounts, units, roles, login and MFA; routes in views.py."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

bp = Blueprint("auth", __name__, template_folder="templates")

NAV = [(_l("Users"), "auth.users", frozenset({"admin"})), (_l("Unit"), "auth.unit_settings", frozenset({"admin"}))]
