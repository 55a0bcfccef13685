"""Pages of the quality domain."""
from __future__ import annotations

from qms.quality import bp

__all__ = ["bp"]
from qms.quality import complaints_views  # noqa: E402,F401
from qms.quality import risks_views  # noqa: E402,F401
