"""API: ballistic entries, correlation jobs and their ranked candidates, decisions, case links."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("api_comparisons", __name__, url_prefix="/comparisons",
                description="Ballistic intelligence: entries, correlation jobs, candidates, decisions, links")


from qms.api import comparisons_exchange  # noqa: E402,F401
