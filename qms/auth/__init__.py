"""Accounts, units, roles, login and MFA; routes in views.py."""
from flask import Blueprint

bp = Blueprint("auth", __name__, template_folder="templates")

NAV = [("Users", "auth.users", frozenset({"admin"})), ("Unit", "auth.unit_settings", frozenset({"admin"}))]
