"""Fixtures of the equipment tests: the comparison tests' synthetic scans (session-wide X3P bytes)."""
from tests.qms.comparisons.conftest import scans

__all__ = ["scans"]
