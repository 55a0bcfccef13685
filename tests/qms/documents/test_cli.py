"""`qms import-library` imports the templates as drafts once; `qms documents-tick` only reports."""
from __future__ import annotations

import sqlalchemy as sa

from qms.documents.cli import documents_tick, import_library
from qms.documents.models import Sop
from qms.trail.models import AuditEvent


def test_import_library_twice_changes_nothing_the_second_time(app, staff, db_session):
    runner = app.test_cli_runner()
    first = runner.invoke(import_library, ["--unit", staff.unit.code.lower()])
    assert first.exit_code == 0, first.output
    assert "imported as drafts, 0 already present" in first.output and "CSI-SOP-007" in first.output
    count = db_session.scalar(sa.select(sa.func.count()).select_from(Sop))
    trail = db_session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    assert count >= 15
    second = runner.invoke(import_library, ["--unit", staff.unit.code])
    assert second.exit_code == 0 and f"0 SOP template(s) imported as drafts, {count} already present" in second.output
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Sop)) == count
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == trail
    imported = db_session.scalars(sa.select(AuditEvent).where(AuditEvent.entity == "Sop")).first()
    assert imported.username == "import-library" and imported.unit_id == staff.unit.id


def test_import_library_into_an_unknown_unit_is_a_clear_error(app):
    result = app.test_cli_runner().invoke(import_library, ["--unit", "NOPE"])
    assert result.exit_code == 1 and "No unit with the code 'NOPE'" in result.output
    assert "Traceback" not in result.output


def test_documents_tick_reports_and_writes_nothing(app, staff, draft, db_session):
    from tests.qms.documents.conftest import make_effective

    make_effective(staff, draft)
    db_session.commit()
    trail = db_session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    result = app.test_cli_runner().invoke(documents_tick, [])
    assert result.exit_code == 0 and "1 revision(s) took effect today" in result.output
    assert "CSI-SOP-900" in result.output
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == trail


def test_demo_seed_runs_once(app, make_unit, make_user, db_session):
    from dataclasses import dataclass

    from qms.auth.models import Role
    from qms.documents.demo import seed_documents
    from qms.documents.models import RevisionState, SopStatus
    from tests.conftest import PASSWORD

    @dataclass
    class Account:
        username: str
        password: str

    unit = make_unit(code="FC-MOI")
    for name, role in (("quality", Role.QUALITY_MANAGER), ("examiner", Role.EXAMINER), ("csi", Role.CSI_OFFICER)):
        make_user(unit, role, username=name)
    accounts = [Account(n, PASSWORD) for n in ("quality", "examiner", "csi")]
    seed_documents(accounts)
    statuses = dict(db_session.execute(sa.select(Sop.code, Sop.status)).all())
    assert statuses["CSI-SOP-007"] == SopStatus.EFFECTIVE and statuses["CSI-SOP-001"] == SopStatus.IN_REVIEW
    sop = db_session.scalar(sa.select(Sop).where(Sop.code == "CSI-SOP-007"))
    assert sop.revisions[0].state == RevisionState.EFFECTIVE and "[unit]" not in sop.revisions[0].content_markdown
    count = db_session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    seed_documents(accounts)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == count


def test_import_library_in_macedonian_brings_the_translated_texts(app, staff, db_session):
    from sop_library import load_translations

    translated = {t.code: t for t in load_translations("mk")}
    result = app.test_cli_runner().invoke(import_library, ["--unit", staff.unit.code, "--language", "mk"])
    assert result.exit_code == 0, result.output
    assert f"In Macedonian: {', '.join(sorted(translated))}." in result.output
    assert "In English (no Macedonian translation yet): CSI-SOP-002," in result.output
    sops = {sop.code: sop for sop in db_session.scalars(sa.select(Sop).where(Sop.unit_id == staff.unit.id))}
    custody = sops["CSI-SOP-005"]
    assert custody.title == translated["CSI-SOP-005"].title and "синџир на чување" in custody.title.casefold()
    draft = custody.revisions[0]
    assert draft.content_markdown == translated["CSI-SOP-005"].body_markdown
    assert "mk translation by CSI-QMS project" in draft.change_summary
    assert "reviewed by no native speaker yet" in draft.change_summary
    assert sops["CSI-SOP-002"].title == "Scene documentation - photography, sketches and notes"
    assert "  CSI-SOP-005  [mk]  " in result.output and "  CSI-SOP-002  [en]  " in result.output


def test_import_library_follows_the_units_language_and_refuses_an_unknown_one(app, staff, db_session):
    staff.unit.language = "sq"
    db_session.commit()
    runner = app.test_cli_runner()
    unknown = runner.invoke(import_library, ["--unit", staff.unit.code, "--language", "klingon"])
    assert unknown.exit_code == 1 and "Unknown language 'klingon'" in unknown.output
    result = runner.invoke(import_library, ["--unit", staff.unit.code])
    assert result.exit_code == 0 and "In Albanian: CSI-SOP-001," in result.output, result.output
    title = db_session.scalar(sa.select(Sop.title).where(Sop.code == "CSI-SOP-005"))
    assert "zinxhiri i ruajtjes" in title.casefold()
