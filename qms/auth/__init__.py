"""The auth domain; its routes are attached in views.py, which create_app imports."""
from flask import Blueprint

bp = Blueprint("auth", __name__, template_folder="templates")
