"""`qms worker`: runs the correlation jobs of the queue (and takes back those of a dead worker)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("worker")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 32),
              help="Jobs run at the same time (each search also uses a process pool over every core).")
@with_appcontext
def worker(workers: int) -> None:
    """Run correlation jobs until stopped (Ctrl+C or SIGTERM finish the current job first)."""
    from qms.comparisons import jobs

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    huey = jobs.queue(app)
    resumed = jobs.recover()
    where = "Redis" if app.config.get("REDIS_URL") else "SQLite queue"
    click.echo(f"qms worker {jobs.worker_name()} on the {where}; {len(resumed)} unfinished job(s) queued again.")
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=True, check_worker_health=True)
    try:
        consumer.run()
    finally:
        jobs.shutdown_executor()
