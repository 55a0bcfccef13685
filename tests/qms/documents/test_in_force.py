"""A revision whose effective date passes is in force in the register, the gap analysis and the
API at once, and reading them writes nothing (issue 12, acceptance 4)."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
import time_machine

from qms.auth import services as auth
from qms.auth.models import Role
from qms.db import today
from qms.documents import services
from qms.extensions import db
from tests.conftest import PASSWORD

CODE = "CSI-SOP-977"
REQUIREMENT = "17020:8.3.1"


def _rows() -> dict[str, int]:
    """The number of rows of every table."""
    db.session.expire_all()
    return {table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in db.metadata.sorted_tables}


def _three_views(web, api, sop_id: int, revision_id: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """What the register page, the gap analysis page and the API say about the SOP."""
    register = web.get("/documents?status=effective")
    gap = web.get("/audits/gap")
    sop = api.get(f"/api/v1/documents/sops/{sop_id}")
    revision = api.get(f"/api/v1/documents/revisions/{revision_id}")
    listed = api.get("/api/v1/documents/sops?status=effective")
    for response in (register, gap, sop, revision, listed):
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return {
        "register": CODE in register.get_data(as_text=True),
        "gap": CODE in gap.get_data(as_text=True),
        "api_status": sop.json["status"],
        "api_current": sop.json["current_revision_id"],
        "api_state": revision.json["state"],
        "api_listed": [s["code"] for s in listed.json],
    }


def _clients(app, staff, login_as, db_session):  # type: ignore[no-untyped-def]
    web = login_as(staff.qm)
    _, clear = auth.issue_token(staff.qm, unit_id=staff.unit.id, role=Role.QUALITY_MANAGER, name="in force")
    db_session.commit()
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {clear}"
    return web, api


def test_a_revision_comes_into_force_on_its_date_everywhere_without_a_write(app, staff, login_as, db_session):
    sop = services.create_sop(unit_id=staff.unit.id, code=CODE, title="Exhibit packaging",
                              discipline="evidence handling", author=staff.qm, content_markdown="# Packaging\n",
                              requirement_ids=[REQUIREMENT])
    rev = sop.revisions[0]
    services.submit(rev, staff.qm)
    effective_on = today() + timedelta(days=3)
    services.approve(rev, staff.examiner, password=PASSWORD, effective_on=effective_on)
    db_session.commit()
    sop_id, revision_id = sop.id, rev.id

    with time_machine.travel(effective_on - timedelta(days=1), tick=False):
        web, api = _clients(app, staff, login_as, db_session)
        before = _rows()
        seen = _three_views(web, api, sop_id, revision_id)
        assert _rows() == before
    assert seen == {"register": False, "gap": False, "api_status": "approved", "api_current": None,
                    "api_state": "approved", "api_listed": []}

    with time_machine.travel(effective_on, tick=False):
        web, api = _clients(app, staff, login_as, db_session)
        before = _rows()
        seen = _three_views(web, api, sop_id, revision_id)
        assert _rows() == before
    assert seen == {"register": True, "gap": True, "api_status": "effective", "api_current": revision_id,
                    "api_state": "effective", "api_listed": [CODE]}
