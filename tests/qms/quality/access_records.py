"""Unit B's quality records for the access test: each topic builds its own (access_<topic>.py)."""
from __future__ import annotations

from tests.qms.quality import access_complaints

RECORD_PARAMS = set(access_complaints.RECORD_PARAMS)


def build(unit_b, user_b) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {**access_complaints.build(unit_b, user_b)}
