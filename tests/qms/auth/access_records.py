"""Records of unit B for the access walk (tests/qms/test_access.py): a browser session of B's user."""
from __future__ import annotations

from qms.auth import sessions

RECORD_PARAMS = {"session_id"}


def build(unit_b, user_b) -> dict[str, object]:  # type: ignore[no-untyped-def]
    row, _ = sessions.start_session(user_b, ip="192.0.2.200", user_agent="MARKER-B-PERSON's browser")
    return {"session_id": row.id}
