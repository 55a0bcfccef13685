"""Pages of the people domain."""
from __future__ import annotations

from qms.people import bp

__all__ = ["bp"]
