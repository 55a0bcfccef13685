"""The demo audits: seeded once, a programme, a reported audit with an overdue and a closed action, one in progress."""
from __future__ import annotations

import sqlalchemy as sa

from qms.audits import services
from qms.audits.models import Audit, AuditProgramme, CorrectiveAction


def test_the_demo_audits_are_seeded_once(app, db_session) -> None:
    from qms.audits.demo import seed_audits
    from qms.demo import seed_demo

    accounts = seed_demo()
    seed_audits(accounts)  # a second `qms demo` changes nothing
    db_session.commit()
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditProgramme)) == 1
    audits = {a.title: a for a in db_session.scalars(sa.select(Audit))}
    reported, running = audits["Personnel competence audit"], audits["Firearms technical audit"]
    assert (reported.status, running.status) == ("reported", "in_progress")
    summary = services.audit_summary(reported)
    assert summary.by_result["non_conforming"] == 2 and summary.by_result["not_applicable"] == 1
    assert summary.findings_by_grade == {"major": 1, "minor": 1, "observation": 1, "opportunity": 0}
    actions = db_session.scalars(sa.select(CorrectiveAction).where(CorrectiveAction.finding_id.is_not(None))
                                 .order_by(CorrectiveAction.id)).all()  # the audits' actions (the quality demo has its own)
    assert [services.is_overdue(a) for a in actions] == [True, False]
    assert actions[1].status == "closed"
    assert any("Записник" in r.evidence_note for r in services.current_results(running).values())
