"""`qms audits report` writes an audit's PDF; `qms audits overdue` lists overdue actions; bad input is a clear error."""
from __future__ import annotations

from datetime import timedelta

from qms.audits import services
from qms.audits.cli import audits
from qms.db import today
from tests.qms.audits.conftest import item


def test_report_writes_the_pdf(app, running, staff, tmp_path) -> None:
    target = tmp_path / "audit.pdf"
    result = app.test_cli_runner().invoke(audits, ["report", str(running.id), "--unit", staff.unit.code,
                                                   "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(b"%PDF") and "Personnel and methods" in result.output


def test_report_refuses_an_audit_of_another_unit_and_an_unknown_unit(app, running, staff, make_unit, tmp_path) -> None:
    other = make_unit(code="OTHER")
    runner = app.test_cli_runner()
    result = runner.invoke(audits, ["report", str(running.id), "--unit", other.code, "-o", str(tmp_path / "x.pdf")])
    assert result.exit_code == 1 and f"Unit OTHER has no audit {running.id}" in result.output
    result = runner.invoke(audits, ["report", "1", "--unit", "NOPE", "-o", str(tmp_path / "x.pdf")])
    assert result.exit_code == 1 and "No unit with the code 'NOPE'" in result.output
    result = runner.invoke(audits, ["report", str(running.id), "--unit", staff.unit.code,
                                    "-o", str(tmp_path / "no/x.pdf")])
    assert result.exit_code == 1 and "Cannot write" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x.pdf").exists()


def test_overdue_lists_only_late_open_actions(app, running, staff, db_session) -> None:
    target = item(running, "17020:6.1.5")
    services.record_result(target, staff.lead, result="non_conforming")
    finding = services.raise_finding(target, staff.lead, grade="minor", statement="Gap.")
    late = services.raise_action(finding, staff.lead, title="Late one", owner_id=staff.examiner.id,
                                 due_on=today())
    services.raise_action(finding, staff.lead, title="On time", owner_id=staff.examiner.id,
                          due_on=today() + timedelta(days=3))
    late.due_on = today() - timedelta(days=1)
    db_session.commit()
    result = app.test_cli_runner().invoke(audits, ["overdue", "--unit", staff.unit.code])
    assert result.exit_code == 0, result.output
    assert "Late one" in result.output and "On time" not in result.output
    assert f"{staff.unit.code}: 1 overdue corrective action(s)." in result.output
