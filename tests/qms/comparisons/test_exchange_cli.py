"""`qms exchange export|import`: packages as files between units (or servers), with the pages' checks."""
from __future__ import annotations

import sqlalchemy as sa

from qms.auth.models import Role
from qms.comparisons import jobs, services
from qms.comparisons.cli import exchange_group
from qms.comparisons.exchange_models import ExchangePackage
from qms.comparisons.models import BallisticEntry
from qms.extensions import db
from qms.trail.models import AuditEvent


def _uploaded(bench, scans) -> list[BallisticEntry]:  # type: ignore[no-untyped-def]
    entries = [services.add_entry(bench.casings[n], actor=bench.examiner, data=scans[name], filename=f"{name}.x3p",
                                  device_id=bench.device.id) for n, name in enumerate(["F0000-S00", "F0001-S00"])]
    db.session.commit()
    assert jobs.run_queued() == 2
    return entries


def _entries_of(unit_id: int) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(BallisticEntry)
                             .where(BallisticEntry.unit_id == unit_id))


def _run(app, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(exchange_group, list(args))


def test_a_package_exported_to_a_file_is_imported_by_another_unit(app, bench, scans, make_unit, make_user,
                                                                   tmp_path) -> None:
    _uploaded(bench, scans)
    package = tmp_path / "to-partner.zip"
    result = _run(app, "export", "--unit", bench.unit.code, "--user", bench.examiner.username, "--all", "-o",
                  str(package))
    assert result.exit_code == 0, result.output
    assert "2 entries of FIRE" in result.output and package.read_bytes().startswith(b"PK")
    receiver = make_unit(code="RECV")
    importer = make_user(receiver, Role.EXAMINER, username="recv-exam")
    result = _run(app, "import", str(package), "--unit", "recv", "--user", importer.username)
    assert result.exit_code == 0, result.output
    assert "2 entries imported into RECV" in result.output
    db.session.expire_all()
    assert _entries_of(receiver.id) == 2 and _entries_of(bench.unit.id) == 2
    directions = db.session.execute(sa.select(ExchangePackage.unit_id, ExchangePackage.direction)
                                    .order_by(ExchangePackage.id)).all()
    assert [tuple(row) for row in directions] == [(bench.unit.id, "export"), (receiver.id, "import")]
    who = {e.username for e in db.session.scalars(sa.select(AuditEvent).where(AuditEvent.entity == "ExchangePackage"))}
    assert who == {bench.examiner.username, importer.username}  # the trail names who acted, not "system"
    again = _run(app, "import", str(package), "--unit", "RECV", "--user", importer.username)
    assert again.exit_code == 1 and "already" in again.output and _entries_of(receiver.id) == 2


def test_a_changed_byte_in_the_file_is_refused_and_nothing_is_stored(app, bench, scans, make_unit, make_user,
                                                                    tmp_path) -> None:
    first, _ = _uploaded(bench, scans)
    package = tmp_path / "one.zip"
    assert _run(app, "export", "--unit", "FIRE", "--user", "exam1", "--entry", str(first.id), "-o",
                str(package)).exit_code == 0
    data = bytearray(package.read_bytes())
    data[len(data) // 2] ^= 0x01
    package.write_bytes(bytes(data))
    receiver = make_unit(code="RECV")
    make_user(receiver, Role.QUALITY_MANAGER, username="recv-qm")
    result = _run(app, "import", str(package), "--unit", "RECV", "--user", "recv-qm")
    assert result.exit_code == 1 and "Package refused, nothing was stored" in result.output
    assert "Traceback" not in result.output
    db.session.expire_all()
    assert _entries_of(receiver.id) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExchangePackage)
                             .where(ExchangePackage.unit_id == receiver.id)) == 0


def test_bad_requests_name_the_problem_and_export_nothing(app, bench, scans, make_unit, make_user, tmp_path) -> None:
    first, _ = _uploaded(bench, scans)
    other = make_unit(code="OTHER")
    make_user(other, Role.EXAMINER, username="other-exam")
    make_user(bench.unit, Role.VIEWER, username="viewer1")
    out = str(tmp_path / "p.zip")
    cases = [
        (["--unit", "NOPE", "--user", "exam1", "--all"], "No unit with the code 'NOPE'"),
        (["--unit", "FIRE", "--user", "nobody", "--all"], "No active user 'nobody'"),
        (["--unit", "FIRE", "--user", "viewer1", "--all"], "viewer1 is not an examiner or quality manager of FIRE"),
        (["--unit", "FIRE", "--user", "exam1"], "Name the entries with --entry ID"),
        (["--unit", "FIRE", "--user", "exam1", "--all", "--entry", str(first.id)], "not both"),
        (["--unit", "FIRE", "--user", "exam1", "--entry", "999999"], "do not exist in this unit"),
        # Another unit's member cannot export FIRE's entries through their own unit either.
        (["--unit", "OTHER", "--user", "other-exam", "--entry", str(first.id)], "do not exist in this unit"),
        (["--unit", "OTHER", "--user", "other-exam", "--all"], "OTHER has no processed entry to export"),
    ]
    for args, message in cases:
        result = _run(app, "export", *args, "-o", out)
        assert result.exit_code != 0 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output
    result = _run(app, "export", "--unit", "FIRE", "--user", "exam1", "--all", "-o", str(tmp_path / "no" / "p.zip"))
    assert result.exit_code == 1 and "Cannot write" in result.output
    assert not (tmp_path / "p.zip").exists()
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExchangePackage)) == 0  # no export recorded
