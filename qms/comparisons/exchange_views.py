"""Exchange pages (export, import, partner keys) and the lead-report download, on the comparisons blueprint."""
from __future__ import annotations
