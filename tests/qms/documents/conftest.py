"""Fixtures for the documents tests: a draft SOP of the shared unit (staff is in tests/qms/conftest.py)."""
from __future__ import annotations

import pytest

from qms.documents import services
from qms.documents.models import Revision
from tests.qms.conftest import Staff, make_effective  # noqa: F401 - the documents tests import it from here

CONTENT = "# CSI-SOP-900 Test procedure\n\n## 1. Purpose\n\nTo test.\n"


@pytest.fixture()
def draft(staff: Staff, db_session) -> Revision:
    """Revision 1 of a new SOP, written by the quality manager, still a draft."""
    sop = services.create_sop(unit_id=staff.unit.id, code="CSI-SOP-900", title="Test procedure",
                              discipline="scene examination", author=staff.qm, owner_id=staff.qm.id,
                              applies_to=["csi_officer"], content_markdown=CONTENT,
                              change_summary="First issue.", requirement_ids=["17020:8.3.1"])
    db_session.commit()
    return sop.revisions[0]
