"""Audit services: planning, checklist generation, results, findings, corrective actions, re-audits."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from qms.audits import services
from qms.audits.models import ActionStatus, Audit, AuditStatus, RequirementResult
from qms.audits.services import Evidence
from qms.db import today
from qms.errors import InvalidInput, NotPermitted, StateConflict
from qms.trail.models import AppendOnlyError, AuditEvent
from tests.qms.audits.conftest import CYRILLIC, effective_sop, item, plan

PDF = b"%PDF-1.4\n% test evidence\n"


def _trail(db_session, entity: str) -> list[AuditEvent]:
    return list(db_session.scalars(sa.select(AuditEvent).where(AuditEvent.entity == entity).order_by(AuditEvent.id)))


def test_checklist_is_generated_from_the_scope(audit) -> None:
    ids = [i.requirement_id for i in audit.items]
    assert ids[:3] == ["17020:6.1.1", "17020:6.1.2", "17020:6.1.3"]
    assert len(ids) == 22 and ids[-1] == "17020:7.1.9"
    assert {i.section_id for i in audit.items} == {"17020:6", "17020:7"}
    assert audit.catalogue_versions == {"iso17020-2012": "2012.1"}


def test_checklist_from_a_checklist_file(staff, db_session) -> None:
    made = services.create_audit(plan(staff, clauses=(), checklist_template="firearms-technical-audit",
                                      kind="technical"), unit_id=staff.unit.id, actor=staff.qm)
    catalogues = {i.catalogue_id for i in made.items}
    assert catalogues == {"iso17020-2012", "ilac-g19", "bpm-firearms"}
    assert "17020:6.2.11" not in {i.requirement_id for i in made.items}  # excluded by the checklist


def test_unknown_clause_and_bad_dates_are_refused(staff) -> None:
    with pytest.raises(InvalidInput, match="Unknown clause"):
        services.create_audit(plan(staff, clauses=("17020:99.9",)), unit_id=staff.unit.id, actor=staff.qm)
    with pytest.raises(InvalidInput, match="end is before"):
        services.create_audit(plan(staff, planned_end=today() - timedelta(days=1)), unit_id=staff.unit.id,
                              actor=staff.qm)


def test_lead_auditor_needs_an_auditing_role(staff) -> None:
    with pytest.raises(InvalidInput, match="lead auditor must hold"):
        services.create_audit(plan(staff, lead_auditor_id=staff.examiner.id), unit_id=staff.unit.id, actor=staff.qm)


def test_an_auditor_may_not_audit_their_own_sop(staff, db_session) -> None:
    effective_sop(staff, db_session, staff.auditor, ["17020:6.1.3"])
    with pytest.raises(NotPermitted, match="own work.*CSI-SOP-301"):
        services.create_audit(plan(staff, team=((staff.auditor.id, "auditor"),)), unit_id=staff.unit.id,
                              actor=staff.qm)
    with pytest.raises(NotPermitted, match="own work"):
        services.create_audit(plan(staff, lead_auditor_id=staff.auditor.id), unit_id=staff.unit.id, actor=staff.qm)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Audit)) == 0  # refused before anything was added
    # Outside the scope the same auditor is independent.
    made = services.create_audit(plan(staff, clauses=("17020:7.1",), team=((staff.auditor.id, "auditor"),)),
                                 unit_id=staff.unit.id, actor=staff.qm)
    assert [m.user_id for m in made.team] == [staff.auditor.id]
    with pytest.raises(NotPermitted, match="own work"):
        services.add_team_member(services.create_audit(plan(staff), unit_id=staff.unit.id, actor=staff.qm),
                                 staff.qm, user_id=staff.auditor.id)


def test_an_sop_an_auditor_writes_during_the_audit_bars_them_from_judging_it(running, staff, db_session) -> None:
    """Independence is checked when a result or finding is recorded, not only when the team was formed."""
    services.record_result(item(running, "17020:6.1.3"), staff.auditor, result="conforming")
    effective_sop(staff, db_session, staff.auditor, ["17020:6.1.3"])  # written and put in force since
    with pytest.raises(NotPermitted, match="own work.*CSI-SOP-301"):
        services.record_result(item(running, "17020:6.1.3"), staff.auditor, result="non_conforming")
    with pytest.raises(NotPermitted, match="own work.*CSI-SOP-301"):
        services.raise_finding(item(running, "17020:6.1.3"), staff.auditor, grade="observation", statement="Noted.")
    elsewhere = services.record_result(item(running, "17020:7.1.1"), staff.auditor, result="conforming")
    assert elsewhere.result == "conforming"  # outside what the SOP claims, the auditor is independent
    assert services.record_result(item(running, "17020:6.1.3"), staff.lead, result="non_conforming")  # the lead may
    results = db_session.scalars(sa.select(RequirementResult).where(RequirementResult.item_id == item(
        running, "17020:6.1.3").id).order_by(RequirementResult.id)).all()
    assert [(r.result, r.recorded_by_id) for r in results] == [("conforming", staff.auditor.id),
                                                               ("non_conforming", staff.lead.id)]


def test_results_need_a_running_audit_and_a_team_member(audit, staff) -> None:
    target = item(audit, "17020:6.1.3")
    with pytest.raises(StateConflict, match="planned"):
        services.record_result(target, staff.lead, result="conforming")
    services.start_audit(audit, staff.lead)
    with pytest.raises(NotPermitted, match="audit team"):
        services.record_result(target, staff.qm, result="conforming")


def test_not_applicable_needs_a_justification(running, staff, db_session) -> None:
    target = item(running, "17020:6.1.3")
    with pytest.raises(InvalidInput, match="justification"):
        services.record_result(target, staff.lead, result="not_applicable", justification="   ")
    assert db_session.scalar(sa.select(sa.func.count()).select_from(RequirementResult)) == 0
    row = services.record_result(target, staff.lead, result="not_applicable", justification="No firearms work.")
    assert row.result == "not_applicable"


def test_database_refuses_an_unjustified_not_applicable(running, staff, db_session) -> None:
    target = item(running, "17020:6.1.3")
    db_session.add(RequirementResult(unit_id=staff.unit.id, audit_id=running.id, item=target,
                                     result="not_applicable", justification=" "))
    with pytest.raises(sa.exc.IntegrityError):
        db_session.flush()
    db_session.rollback()


def test_current_result_is_the_latest_row_and_history_stays(running, staff, db_session) -> None:
    target = item(running, "17020:6.1.3")
    first = services.record_result(target, staff.lead, result="non_conforming", evidence_note=CYRILLIC)
    services.record_result(target, staff.auditor, result="partially_conforming", evidence_note="Re-checked.")
    db_session.commit()
    current = services.current_results(running)
    assert current[target.id].result == "partially_conforming"
    assert [r.result for r in services.item_history(target)] == ["non_conforming", "partially_conforming"]
    assert first.evidence_note == CYRILLIC
    first.result = "conforming"
    with pytest.raises(AppendOnlyError):
        db_session.flush()
    db_session.rollback()


def test_result_links_sop_revisions_and_files(running, staff, db_session, app) -> None:
    sop = effective_sop(staff, db_session, staff.examiner, ["17020:8.3.1"])
    row = services.record_result(item(running, "17020:7.1.1"), staff.lead, result="conforming",
                                 revision_ids=[sop.current_revision_id],
                                 files=[Evidence(PDF, "records.pdf")])
    db_session.commit()
    assert [link.revision_id for link in row.sop_links] == [sop.current_revision_id]
    stored, data = services.result_file(row.files[0].id)
    assert (stored.media_type, data) == ("application/pdf", PDF)
    with pytest.raises(InvalidInput, match="not a PDF"):
        services.record_result(item(running, "17020:7.1.1"), staff.lead, result="conforming",
                               files=[Evidence(b"\x00\xff\xfe binary", "x.bin")])


def test_summary_counts_every_item_once(running, staff, db_session) -> None:
    services.record_result(item(running, "17020:6.1.1"), staff.lead, result="conforming")
    services.record_result(item(running, "17020:6.1.2"), staff.lead, result="conforming")
    services.record_result(item(running, "17020:6.1.2"), staff.lead, result="non_conforming")  # replaces
    services.record_result(item(running, "17020:7.1.1"), staff.lead, result="not_applicable", justification="n/a")
    services.raise_finding(item(running, "17020:6.1.2"), staff.lead, grade="minor", statement="Records missing.")
    services.raise_finding(item(running, "17020:6.1.1"), staff.lead, grade="opportunity", statement="Could improve.")
    summary = services.audit_summary(running)
    assert summary.items == 22
    assert summary.by_result == {"conforming": 1, "partially_conforming": 0, "non_conforming": 1,
                                 "not_applicable": 1, "not_assessed": 19}
    assert summary.by_section["17020:6"]["not_assessed"] == 11
    assert summary.by_section["17020:7"] == {"conforming": 0, "partially_conforming": 0, "non_conforming": 0,
                                             "not_applicable": 1, "not_assessed": 8}
    assert summary.findings_by_grade == {"major": 0, "minor": 1, "observation": 0, "opportunity": 1}


def test_a_nonconformity_needs_a_nonconforming_result(running, staff) -> None:
    target = item(running, "17020:6.1.4")
    with pytest.raises(InvalidInput, match="record the result first"):
        services.raise_finding(target, staff.lead, grade="major", statement="No records.")
    services.record_result(target, staff.lead, result="non_conforming")
    finding = services.raise_finding(target, staff.lead, grade="major", statement="No records.")
    assert finding.number == 1


def _finding(running, staff):  # type: ignore[no-untyped-def]
    target = item(running, "17020:6.1.5")
    services.record_result(target, staff.lead, result="non_conforming", evidence_note="No training record.")
    return services.raise_finding(target, staff.lead, grade="minor", statement="Training not recorded.")


def _implemented(running, staff, db_session):  # type: ignore[no-untyped-def]
    action = services.raise_action(_finding(running, staff), staff.lead, title="Record training",
                                   owner_id=staff.examiner.id, due_on=today() + timedelta(days=30))
    services.record_step(action, staff.examiner, kind="correction", text="Missing records written up.")
    services.record_step(action, staff.examiner, kind="root_cause", method="five_whys",
                         text="Why? No form. Why? Nobody owned it.")
    services.record_step(action, staff.examiner, kind="action_plan", text="Form in SOP 301.",
                         planned_due_on=today() + timedelta(days=20))
    services.record_step(action, staff.examiner, kind="implementation", text="Form in use.",
                         evidence=Evidence(PDF, "form.pdf"))
    db_session.commit()
    return action


def test_implementation_needs_root_cause_and_plan(running, staff) -> None:
    action = services.raise_action(_finding(running, staff), staff.lead, title="Fix",
                                   owner_id=staff.examiner.id, due_on=today() + timedelta(days=5))
    with pytest.raises(StateConflict, match="root cause and the action plan"):
        services.record_step(action, staff.examiner, kind="implementation", text="Done.")
    with pytest.raises(InvalidInput, match="root cause method"):
        services.record_step(action, staff.examiner, kind="root_cause", method="", text="Because.")
    with pytest.raises(NotPermitted, match="owner"):
        services.record_step(action, staff.csi, kind="correction", text="Not mine.")


def test_an_action_cannot_close_without_an_independent_effectiveness_review(running, staff, db_session) -> None:
    action = _implemented(running, staff, db_session)
    assert action.status == ActionStatus.IMPLEMENTED.value
    with pytest.raises(StateConflict, match="effectiveness review"):
        services.close_action(action, staff.qm, text="Closing.")
    with pytest.raises(NotPermitted, match="other than its owner"):
        services.review_effectiveness(action, staff.examiner, effective=True, text="Works for me.")
    services.review_effectiveness(action, staff.auditor, effective=False, text="Two records still missing.")
    assert action.status == ActionStatus.OPEN.value
    with pytest.raises(StateConflict, match="effectiveness review"):
        services.close_action(action, staff.qm, text="Closing.")
    services.record_step(action, staff.examiner, kind="implementation", text="All records complete.")
    services.review_effectiveness(action, staff.auditor, effective=True, text="Sampled 10 files: complete.")
    services.close_action(action, staff.qm, text="Closed.")
    assert action.status == ActionStatus.CLOSED.value and action.closed_at is not None


def test_overdue_actions(running, staff, db_session) -> None:
    action = services.raise_action(_finding(running, staff), staff.lead, title="Fix", owner_id=staff.examiner.id,
                                   due_on=today())
    assert not services.is_overdue(action)
    assert services.is_overdue(action, on=today() + timedelta(days=1))
    with pytest.raises(InvalidInput, match="past"):
        services.raise_action(action.finding, staff.lead, title="Late", owner_id=staff.examiner.id,
                              due_on=today() - timedelta(days=1))


def test_audit_closes_only_when_its_actions_are_closed(running, staff, db_session) -> None:
    finding = _finding(running, staff)
    services.report_audit(running, staff.lead, "Mostly conforming.")
    with pytest.raises(StateConflict, match="without a corrective action"):
        services.close_audit(running, staff.qm)
    services.raise_action(finding, staff.qm, title="Fix", owner_id=staff.examiner.id,
                          due_on=today() + timedelta(days=3))
    with pytest.raises(StateConflict, match="open corrective action"):
        services.close_audit(running, staff.qm)
    assert running.status == AuditStatus.REPORTED.value


def test_reaudit_resets_results_and_compares_progress(running, staff, db_session) -> None:
    services.record_result(item(running, "17020:6.1.1"), staff.lead, result="non_conforming")
    services.record_result(item(running, "17020:6.1.2"), staff.lead, result="conforming")
    services.record_result(item(running, "17020:6.1.3"), staff.lead, result="partially_conforming")
    services.report_audit(running, staff.lead, "Done.")
    again = services.start_reaudit(running, staff.qm, title="Re-audit", planned_start=today(),
                                   planned_end=today(), lead_auditor_id=staff.auditor.id)
    assert [i.requirement_id for i in again.items] == [i.requirement_id for i in running.items]
    assert services.current_results(again) == {}
    services.start_audit(again, staff.auditor)
    services.record_result(item(again, "17020:6.1.1"), staff.auditor, result="conforming")
    services.record_result(item(again, "17020:6.1.2"), staff.auditor, result="partially_conforming")
    services.record_result(item(again, "17020:6.1.3"), staff.auditor, result="partially_conforming")
    report = services.progress(again)
    changes = {row.item.requirement_id: row.change for row in report.rows}
    assert changes["17020:6.1.1"] == "improved" and changes["17020:6.1.2"] == "worse"
    assert changes["17020:6.1.3"] == "same"
    assert report.counts == {"improved": 1, "same": 1, "worse": 1, "unranked": 19}


def test_every_result_finding_and_action_change_is_on_the_trail(running, staff, db_session) -> None:
    action = _implemented(running, staff, db_session)
    services.revise_finding(action.finding, staff.lead, grade="major", statement="Training not recorded at all.",
                            evidence="", reason="Wider than first seen.")
    services.review_effectiveness(action, staff.auditor, effective=True, text="Checked.")
    services.close_action(action, staff.qm, text="Closed.")
    db_session.commit()
    assert [e.action for e in _trail(db_session, "RequirementResult")] == ["insert"]
    finding_rows = _trail(db_session, "Finding")
    assert [e.action for e in finding_rows] == ["insert", "update"]
    assert finding_rows[1].before["grade"] == "minor" and finding_rows[1].after["grade"] == "major"
    assert finding_rows[1].reason == "Wider than first seen."
    steps = _trail(db_session, "ActionStep")
    assert [e.after["kind"] for e in steps] == ["correction", "root_cause", "action_plan", "implementation",
                                                "effectiveness_review", "closure"]
    statuses = [e.after["status"] for e in _trail(db_session, "CorrectiveAction") if "status" in e.after]
    assert statuses == ["open", "implemented", "effective", "closed"]
    # Outside a request the trail's actor is "system"; who acted is on the step itself (web tests check users).
    assert {e.after["actor_id"] for e in steps} == {staff.examiner.id, staff.auditor.id, staff.qm.id}


def test_programme_orders_entries_by_risk(staff, db_session) -> None:
    programme = services.create_programme(unit_id=staff.unit.id, actor=staff.qm, year=2026, title="Programme 2026")
    services.add_entry(programme, staff.qm, process="Evidence handling", clauses=["17020:7.3"], planned_month=3,
                       risk_level="low")
    services.add_entry(programme, staff.qm, process="Firearms examination", clauses=["17020:7.1", "bpm-firearms:4.1"],
                       planned_month=9, risk_level="high")
    db_session.commit()
    assert [e.process for e in services.entries_by_risk(programme)] == ["Firearms examination", "Evidence handling"]
    with pytest.raises(StateConflict, match="already has"):
        services.create_programme(unit_id=staff.unit.id, actor=staff.qm, year=2026, title="Again")
    with pytest.raises(InvalidInput, match="Unknown clause"):
        services.add_entry(programme, staff.qm, process="X", clauses=["nope:1"], planned_month=1,
                           risk_level="low")
    with pytest.raises(InvalidInput, match="risk level"):
        services.add_entry(programme, staff.qm, process="X", clauses=["17020:7.3"], planned_month=1,
                           risk_level="extreme")


@pytest.mark.parametrize("table", ["audit_result", "audit_action_step", "audit_checklist_item"])
def test_history_tables_refuse_raw_sql_changes(running, staff, db_session, table) -> None:
    action = _implemented(running, staff, db_session)
    assert action.steps
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db_session.execute(sa.text(f"UPDATE {table} SET id = id"))
    db_session.rollback()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db_session.execute(sa.text(f"DELETE FROM {table}"))
    db_session.rollback()


def test_independence_follows_catalogue_mappings(staff, db_session) -> None:
    # bpm-firearms:4.1-05 maps onto 17020:6.1.3, which the auditor's SOP claims to meet.
    effective_sop(staff, db_session, staff.auditor, ["17020:6.1.3"])
    with pytest.raises(NotPermitted, match="CSI-SOP-301"):
        services.create_audit(plan(staff, clauses=("bpm-firearms:4.1",), lead_auditor_id=staff.auditor.id),
                              unit_id=staff.unit.id, actor=staff.qm)
    assert services.own_work_conflicts(staff.lead.id, staff.unit.id, ["bpm-firearms:4.1-05"]) == []


def test_whoever_implemented_an_action_may_not_review_it(running, staff, db_session) -> None:
    action = services.raise_action(_finding(running, staff), staff.lead, title="Fix", owner_id=staff.examiner.id,
                                   due_on=today() + timedelta(days=5))
    services.record_step(action, staff.examiner, kind="root_cause", method="other", text="Cause.")
    services.record_step(action, staff.examiner, kind="action_plan", text="Plan.")
    services.record_step(action, staff.qm, kind="implementation", text="Done on the owner's behalf.")
    assert not services.may_review(action, staff.qm) and services.may_review(action, staff.auditor)
    with pytest.raises(NotPermitted, match="whoever implemented it"):
        services.review_effectiveness(action, staff.qm, effective=True, text="Fine.")
    services.review_effectiveness(action, staff.auditor, effective=True, text="Fine.")
    assert services.may_close(action, staff.qm) and not services.may_close(action, staff.examiner)


def test_only_planners_plan_and_viewers_only_observe(audit, staff, make_user, db_session) -> None:
    from qms.auth.models import Role

    with pytest.raises(NotPermitted, match="plan audits"):
        services.create_audit(plan(staff), unit_id=staff.unit.id, actor=staff.examiner)
    with pytest.raises(NotPermitted, match="plan audits"):
        services.create_programme(unit_id=staff.unit.id, actor=staff.csi, year=2026, title="Mine")
    programme = services.create_programme(unit_id=staff.unit.id, actor=staff.qm, year=2026, title="Programme")
    with pytest.raises(NotPermitted, match="plan audits"):
        services.add_entry(programme, staff.examiner, process="Own work", clauses=["17020:7.1"], planned_month=2,
                           risk_level="low")
    with pytest.raises(NotPermitted, match="plan audits"):
        services.add_team_member(audit, staff.examiner, user_id=staff.csi.id)
    viewer = make_user(staff.unit, Role.VIEWER, username="viewer")
    with pytest.raises(InvalidInput, match="may only observe"):
        services.add_team_member(audit, staff.qm, user_id=viewer.id, role="auditor")
    assert not services.may_record(audit, viewer)
    services.add_team_member(audit, staff.qm, user_id=viewer.id, role="observer")
    assert not services.may_record(audit, viewer)
