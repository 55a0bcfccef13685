"""The bench's casings handed over to the examiner who images them: only the holder of an item images it.

Imported by the test modules that upload scans (`from tests.qms.comparisons.handed_over import bench`):
it overrides the conftest's `bench` and builds on it.
"""
from __future__ import annotations

import pytest

from qms.evidence import custody
from tests.conftest import PASSWORD


@pytest.fixture()
def bench(bench, db_session):  # type: ignore[no-untyped-def]
    for casing in bench.casings:
        custody.transfer_custody(casing, actor=bench.csi, receiver_username=bench.examiner.username,
                                 receiver_password=PASSWORD)
    db_session.commit()
    return bench
