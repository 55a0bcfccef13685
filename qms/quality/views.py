"""Pages of the quality domain."""
from __future__ import annotations

from qms.quality import bp

__all__ = ["bp"]
from qms.quality import manual_views  # noqa: E402,F401
