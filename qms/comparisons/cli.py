"""`qms worker`: runs the correlation jobs of the queue (and takes back those of a dead worker)."""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from qms.cli_units import unit_from_code
from qms.errors import Refused


@click.command("worker")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 32),
              help="Jobs run at the same time (each search also uses a process pool over every core).")
@click.option("--parent-pid", type=click.IntRange(1), default=None,
              help="Stop once process PID is no longer this worker's parent (how `qms demo` runs it).")
@with_appcontext
def worker(workers: int, parent_pid: int | None) -> None:
    """Run correlation jobs until stopped (Ctrl+C lets running jobs finish; after SIGTERM the next worker resumes)."""
    from qms.comparisons import jobs

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    huey = jobs.queue(app)
    resumed = jobs.recover()
    where = "Redis" if app.config.get("REDIS_URL") else "SQLite queue"
    click.echo(f"qms worker {jobs.worker_name()} on the {where}; {len(resumed)} unfinished job(s) queued again.")
    if parent_pid is not None:
        _stop_when_orphaned(parent_pid)
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=True, check_worker_health=True)
    try:
        consumer.run()
    finally:
        jobs.shutdown_executor()


def _stop_when_orphaned(parent: int) -> None:
    """SIGTERM this worker once its parent dies: a SIGKILLed `qms demo` cannot stop its worker itself."""
    def watch() -> None:
        while os.getppid() == parent:  # an orphan is adopted by another process
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)  # the consumer's own stop; the next worker resumes its jobs

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


@click.command("calibrate")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--unit", "unit_code", required=True, help="Code of the unit whose index gets the calibration.")
@click.option("--name", required=True, help='The calibration set, e.g. "Fadul 2011, 40 Ruger P95 scans".')
@click.option("--processes", default=0, type=int, help="Processes for the comparisons (default: every core).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@with_appcontext
def calibrate(manifest: Path, unit_code: str, name: str, processes: int, quiet: bool) -> None:
    """Fit the unit's score-to-LR calibration on a known set (CSV with the columns file and firearm)."""
    from tqdm import tqdm

    from ballistics.evaluate import read_manifest
    from ballistics.search import local_executor
    from qms.comparisons.calibration import fit_unit_calibration

    unit = unit_from_code(unit_code)
    try:
        scans = len(read_manifest(manifest))
        bar = tqdm(total=scans * (scans - 1) // 2, desc="comparing known pairs", unit="pair", disable=quiet,
                   file=sys.stderr)
        with local_executor(processes or None) as pool, bar:
            fitted = fit_unit_calibration(unit.id, manifest, name=name, executor=pool, progress=bar.update)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Calibration of {unit.code} fitted on {fitted.name}: {fitted.same_source_pairs} known matches, "
               f"{fitted.different_source_pairs} known non-matches, Cllr {fitted.cllr:.3f}. "
               "Searches from now on report likelihood ratios.")


@contextmanager
def refusals_end_the_command() -> Iterator[None]:
    """The commands' refusal handler: the work is rolled back and the command exits non-zero with the reason."""
    from qms.extensions import db

    try:
        yield
    except Refused as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None


@click.group("exchange")
def exchange_group() -> None:
    """Exchange packages as files: export a unit's entries, import a partner's package (for transfers offline)."""


def _unit_and_user(unit_code: str, username: str):  # type: ignore[no-untyped-def]
    """The unit and the member acting for it, who must be allowed to exchange there (as on the pages)."""
    from sqlalchemy import select

    from qms.auth.models import User
    from qms.auth.services import roles_in
    from qms.comparisons.exchange import EXCHANGERS
    from qms.extensions import db
    from qms.trail.audited import set_actor

    unit = unit_from_code(unit_code)
    user = db.session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.active:
        raise click.ClickException(f"No active user {username!r}.")
    if not roles_in(user, unit.id) & EXCHANGERS:
        raise click.ClickException(f"{user.username} is not an examiner or quality manager of {unit.code}: "
                                   "only they exchange entries.")
    set_actor(db.session, user_id=user.id, username=user.username, unit_id=unit.id)
    return unit, user


@exchange_group.command("export")
@click.option("--unit", "unit_code", required=True, help="Code of the exporting unit.")
@click.option("--user", "username", required=True, help="The examiner or quality manager who exports (for the trail).")
@click.option("--entry", "entry_ids", multiple=True, type=click.IntRange(1), help="Entry id (repeat); or --all.")
@click.option("--all", "everything", is_flag=True, help="Every processed entry of the unit.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the package (.zip).")
@with_appcontext
def export_command(unit_code: str, username: str, entry_ids: tuple[int, ...], everything: bool,
                   output: Path) -> None:
    """Write a signed package of the unit's entries, recorded as an export of the unit."""
    from qms.comparisons import exchange
    from qms.extensions import db

    unit, user = _unit_and_user(unit_code, username)
    if everything == bool(entry_ids):
        raise click.ClickException("Name the entries with --entry ID (repeated), or give --all, not both.")
    with refusals_end_the_command():
        chosen = (exchange.exportable_entries(unit.id) if everything
                  else exchange.entries_by_id(list(entry_ids), unit.id))
        if not chosen:
            raise click.ClickException(f"{unit.code} has no processed entry to export.")
        package, data = exchange.export_entries(chosen, unit=unit, actor=user)
    try:
        output.write_bytes(data)
    except OSError as error:
        db.session.rollback()
        raise click.ClickException(f"Cannot write {output}: {error.strerror}.") from None
    db.session.commit()
    click.echo(f"{output}: {len(chosen)} entr{'y' if len(chosen) == 1 else 'ies'} of {unit.code}, "
               f"{len(data) / 1e6:.1f} MB, SHA-256 {package.sha256}, "
               f"signed with key {exchange.own_fingerprint()[:16]}.")


@exchange_group.command("import")
@click.argument("package_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--unit", "unit_code", required=True, help="Code of the receiving unit.")
@click.option("--user", "username", required=True, help="The examiner or quality manager who imports (for the trail).")
@with_appcontext
def import_command(package_file: Path, unit_code: str, username: str) -> None:
    """Check a package completely (limits, every hash, signature, trusted signer), then store its entries."""
    from qms.comparisons import exchange
    from qms.extensions import db

    unit, user = _unit_and_user(unit_code, username)
    with package_file.open("rb") as handle:
        data = handle.read(exchange.limits().max_bytes + 1)  # a larger file is refused by the size check
    with refusals_end_the_command():
        outcome = exchange.import_package(data, unit=unit, actor=user)
    db.session.commit()
    skipped = f"; {len(outcome.skipped)} already here" if outcome.skipped else ""
    click.echo(f"{len(outcome.imported)} entr{'y' if len(outcome.imported) == 1 else 'ies'} imported into "
               f"{unit.code}{skipped}; their searches are queued (run `qms worker`).")
