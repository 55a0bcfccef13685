"""The daily e-mail digest against a real SMTP server in the test process (aiosmtpd), through `qms notify`:
the right items reach the right person, a person who turned it off gets nothing, no SMTP means a clear
message and exit 0 (acceptance 5 of issue 15)."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from babel.dates import format_date

from qms.audits import services as audits
from qms.audits.models import Grade, Result
from qms.auth.models import Role
from qms.db import today
from qms.documents import services as documents
from qms.equipment import services as equipment
from qms.notify.cli import notify_command
from qms.notify.digest import digest_wanted
from qms.quality import complaints
from tests.qms.audits.conftest import item, plan
from tests.qms.conftest import Staff, make_effective

SENDER = "qms@forensic.example"


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps every message it is given, by recipient."""

    messages: dict[str, list[EmailMessage]] = field(default_factory=dict)

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]  # noqa: N802
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        for recipient in envelope.rcpt_tos:
            self.messages.setdefault(recipient, []).append(parsed)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture()
def inbox(app, monkeypatch) -> Iterator[Inbox]:  # type: ignore[no-untyped-def]
    """A local SMTP server, and the app configured to send through it (no TLS, no login)."""
    handler, port = Inbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    for key, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "SMTP_TLS": False, "SMTP_USER": "",
                       "SMTP_PASSWORD": "", "MAIL_FROM": SENDER}.items():
        monkeypatch.setitem(app.config, key, value)
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture()
def waiting(staff: Staff, db_session) -> Staff:
    """Known by construction: the examiner has an SOP to read; the quality manager an overdue-soon corrective
    action; the lead auditor a calibration due in 15 days; auditor2 an action too; the CSI officer nothing."""
    for person in (staff.qm, staff.lead, staff.auditor, staff.examiner, staff.csi):
        person.email = f"{person.username}@forensic.example"
    sop = documents.create_sop(unit_id=staff.unit.id, code="CSI-SOP-410", title="Bullet comparison",
                               author=staff.qm, discipline="firearms and ballistics", owner_id=staff.qm.id,
                               applies_to=["examiner"], content_markdown="# Comparison\n", change_summary="First.")
    make_effective(staff, sop.revisions[0])
    audit = audits.create_audit(plan(staff), unit_id=staff.unit.id, actor=staff.qm)
    audits.start_audit(audit, staff.lead)
    audits.record_result(item(audit, "17020:6.1.3"), staff.lead, result=Result.NON_CONFORMING.value)
    finding = audits.raise_finding(item(audit, "17020:6.1.3"), staff.lead, grade=Grade.MAJOR.value,
                                   statement="Competence never assessed.")
    audits.raise_action(finding, staff.lead, title="Assess the officers", owner_id=staff.qm.id,
                        due_on=today() + timedelta(days=3))
    audits.raise_action(finding, staff.lead, title="Write the competence plan", owner_id=staff.auditor.id,
                        due_on=today() + timedelta(days=5))
    audits.raise_action(finding, staff.lead, title="Far future review", owner_id=staff.qm.id,
                        due_on=today() + timedelta(days=90))
    scope = equipment.add(staff.unit.id, staff.qm, equipment.Details(
        identifier="CM-01", kind="comparison_microscope", name="Comparison microscope", responsible_id=staff.lead.id,
        calibration_interval_months=12))
    equipment.add_record(scope, staff.qm, equipment.RecordInput(
        kind="calibration", result="pass", performed_on=today() - timedelta(days=350),
        next_due=today() + timedelta(days=15), performed_by="Metrology lab"))
    db_session.commit()
    return staff


def body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def run_notify(app):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(notify_command, ["--quiet"])


def test_each_person_gets_their_own_items(app, inbox: Inbox, waiting: Staff, make_user, db_session) -> None:
    viewer = make_user(waiting.unit, Role.VIEWER, username="viewer")
    viewer.email = "viewer@forensic.example"
    db_session.commit()
    result = run_notify(app)
    assert result.exit_code == 0, result.output
    assert "Digests sent: 5" in result.output
    qm, lead, examiner, csi = (inbox.messages[f"{name}@forensic.example"]
                               for name in ("qm", "lead", "examiner", "csi"))
    assert [len(qm), len(lead), len(examiner), len(csi)] == [1, 1, 1, 1]
    assert "viewer@forensic.example" not in inbox.messages  # nothing waits for a viewer: no e-mail

    qm_text = body(qm[0])
    assert "Assess the officers" in qm_text and "Far future review" not in qm_text
    assert "Write the competence plan" not in qm_text and "CSI-SOP-410" not in qm_text
    assert f"due {format_date(today() + timedelta(days=3), 'medium', locale='en')}" in qm_text
    # Authorised by the set-up command and never witnessed: witnessing is due in every scope.
    assert "Witnessed examinations due" in qm_text and "Scene examination" in qm_text
    assert qm[0]["From"] == SENDER and qm[0]["Subject"] == "CSI-QMS: 7 items waiting for you"

    lead_text = body(lead[0])
    assert "Calibrations due within 30 days" in lead_text and "CM-01 Comparison microscope" in lead_text
    assert "Assess the officers" not in lead_text

    examiner_text = body(examiner[0])
    assert "CSI-SOP-410 Bullet comparison, revision" in examiner_text and "CM-01" not in examiner_text
    csi_text = body(csi[0])
    assert "Witnessed examinations due" in csi_text and "Corrective actions" not in csi_text
    assert "CSI-SOP-410" not in csi_text  # the SOP applies to examiners only
    assert examiner[0].get_body(preferencelist=("html",)) is not None


def test_complaints_awaiting_a_decision_reach_the_quality_managers(app, inbox: Inbox, waiting: Staff,
                                                                   db_session) -> None:
    awaiting = complaints.receive(waiting.unit.id, waiting.qm, complaints.Received(
        complainant="Defence counsel A. Berisha", channel="letter", description="The report came late."))
    decided = complaints.receive(waiting.unit.id, waiting.qm, complaints.Received(
        complainant="Prosecutor B. Hoxha", channel="email", description="A label was unreadable."))
    complaints.reject(decided, waiting.qm, "Not about the unit's work.")
    db_session.commit()
    assert run_notify(app).exit_code == 0
    qm_text = body(inbox.messages["qm@forensic.example"][0])
    assert "Complaints and appeals awaiting a decision" in qm_text
    assert f"{awaiting.number} from Defence counsel A. Berisha" in qm_text
    assert f"due {format_date(awaiting.decide_by, 'medium', locale='en')}" in qm_text
    assert decided.number not in qm_text  # rejected: nothing left to decide
    assert "awaiting a decision" not in body(inbox.messages["examiner@forensic.example"][0])


def _catalogue(language: str) -> dict[str, str | list[str]]:
    """msgid -> translation; a plural message by its plural msgid -> all its forms."""
    from pathlib import Path

    from babel.messages.pofile import read_po

    import qms

    path = Path(qms.__file__).parent / "translations" / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        return {(str(m.id) if isinstance(m.id, str) else str(m.id[1])):
                (str(m.string) if isinstance(m.id, str) else [str(form) for form in m.string])
                for m in read_po(handle) if m.id and m.string}


def test_each_person_reads_their_digest_in_their_own_language(app, inbox: Inbox, waiting: Staff,
                                                              db_session) -> None:
    """The quality manager chose Macedonian; the lead auditor chose none, so the unit's language (Albanian)
    applies; the examiner chose English. One run sends each their own, dates in their own format."""
    waiting.qm.language, waiting.lead.language, waiting.examiner.language = "mk", "", "en"
    waiting.unit.language = "sq"
    db_session.commit()
    assert run_notify(app).exit_code == 0
    mk, sq = _catalogue("mk"), _catalogue("sq")

    qm = inbox.messages["qm@forensic.example"][0]
    due = format_date(today() + timedelta(days=3), "medium", locale="mk")
    assert mk["Corrective actions due"] in body(qm) and "Corrective actions due" not in body(qm)
    assert mk["due %(day)s"] % {"day": due} in body(qm)
    assert qm["Subject"] in [form % {"num": 7} for form in mk["CSI-QMS: %(num)d items waiting for you"]]
    assert mk["Witnessed examinations due"] in body(qm)

    lead_text = body(inbox.messages["lead@forensic.example"][0])
    assert sq["Calibrations due within %(days)d days"] % {"days": 30} in lead_text
    assert format_date(today() + timedelta(days=15), "medium", locale="sq") in lead_text

    examiner_text = body(inbox.messages["examiner@forensic.example"][0])
    assert "SOPs to read and acknowledge" in examiner_text  # English, as chosen, whatever the unit's


def test_a_person_who_turned_it_off_gets_nothing(app, inbox: Inbox, waiting: Staff, login_as) -> None:
    page = login_as(waiting.auditor)
    assert 'name="digest"' in page.get("/account").get_data(as_text=True)
    response = page.post("/account/digest", data={})  # the box left unticked
    assert response.status_code == 302
    assert not digest_wanted(waiting.auditor.id)
    result = run_notify(app)
    assert result.exit_code == 0 and "turned off: 1" in result.output
    assert "auditor2@forensic.example" not in inbox.messages
    assert "qm@forensic.example" in inbox.messages  # everyone else still gets theirs

    page.post("/account/digest", data={"digest": "y"})
    assert digest_wanted(waiting.auditor.id)
    run_notify(app)
    assert "Write the competence plan" in body(inbox.messages["auditor2@forensic.example"][0])


def test_without_smtp_it_says_so_and_exits_0(app, waiting: Staff, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "SMTP_HOST", "")
    result = run_notify(app)
    assert result.exit_code == 0
    assert "No SMTP server is configured (QMS_SMTP_HOST)" in result.output


def test_an_unreachable_server_is_reported_not_a_traceback(app, waiting: Staff, monkeypatch) -> None:
    for key, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": free_port(), "SMTP_TLS": False,
                       "MAIL_FROM": SENDER}.items():
        monkeypatch.setitem(app.config, key, value)
    result = run_notify(app)
    assert result.exit_code == 1
    assert "SMTP server" in result.output and "Traceback" not in result.output
