"""API endpoints for exchange packages and the lead report, on the comparisons API blueprint."""
from __future__ import annotations
