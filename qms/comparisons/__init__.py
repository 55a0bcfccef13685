"""Ballistic intelligence: entries, correlation jobs, review of candidates, decisions and case links.

Routes in views.py (and exchange_views.py), the work in services.py, the background queue in jobs.py.
"""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

bp = Blueprint("comparisons", __name__, template_folder="templates")

# Examiners do the work; quality managers and auditors read the records.
NAV = [
    (_l("Ballistics"), "comparisons.entries", frozenset({"examiner", "quality_manager", "auditor"})),
    (_l("Exchange"), "comparisons.exchange_page", frozenset({"examiner", "quality_manager", "auditor"})),
]
