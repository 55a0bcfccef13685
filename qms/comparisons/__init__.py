"""Ballistic intelligence: entries, correlation jobs, review of candidates, decisions and case links.

Routes in views.py (and exchange_views.py), the work in services.py, the background queue in jobs.py.
"""
from flask import Blueprint

bp = Blueprint("comparisons", __name__, template_folder="templates")

# Examiners do the work; quality managers and auditors read the records.
NAV = [
    ("Ballistics", "comparisons.entries", frozenset({"examiner", "quality_manager", "auditor"})),
    ("Exchange", "comparisons.exchange_page", frozenset({"examiner", "quality_manager", "auditor"})),
]
