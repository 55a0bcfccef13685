"""Exchange pages (export, import, partner keys) and the lead-report download, on the comparisons blueprint."""
from __future__ import annotations

from qms.comparisons import exchange_models  # noqa: F401  (the exchange tables join the metadata)
