"""Pages of the quality domain."""
from __future__ import annotations

from qms.quality import bp

__all__ = ["bp"]
