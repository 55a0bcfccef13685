"""`qms worker`: runs the correlation jobs of the queue (and takes back those of a dead worker)."""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext


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
@with_appcontext
def calibrate(manifest: Path, unit_code: str, name: str, processes: int) -> None:
    """Fit the unit's score-to-LR calibration on a known set (CSV with the columns file and firearm)."""
    from sqlalchemy import select

    from ballistics.search import local_executor
    from qms.auth.models import Unit
    from qms.comparisons.calibration import fit_unit_calibration
    from qms.extensions import db

    unit = db.session.scalar(select(Unit).where(Unit.code == unit_code.upper()))
    if unit is None:
        raise click.ClickException(f"No unit with the code {unit_code!r}.")
    try:
        with local_executor(processes or None) as pool:
            fitted = fit_unit_calibration(unit.id, manifest, name=name, executor=pool)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Calibration of {unit.code} fitted on {fitted.name}: {fitted.same_source_pairs} known matches, "
               f"{fitted.different_source_pairs} known non-matches, Cllr {fitted.cllr:.3f}. "
               "Searches from now on report likelihood ratios.")
