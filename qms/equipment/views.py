"""Pages of the equipment domain."""
from __future__ import annotations

from qms.equipment import bp

__all__ = ["bp"]
