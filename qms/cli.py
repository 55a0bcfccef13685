"""The `qms` command: the demo, the commands of `qms.commands` and Flask's own commands."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import click
from flask.cli import FlaskGroup
from waitress import serve

from qms import create_app
from qms.commands import COMMANDS, upgrade_database
from qms.demo import seed_demo


@click.group(cls=FlaskGroup, create_app=create_app, add_default_commands=True, add_version_option=False)
def main() -> None:
    """CSI-QMS: quality management, chain of custody and ballistic intelligence."""


@main.command("demo", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Prepare the demo database and accounts, do not serve.")
def demo_command(host: str, port: int, no_serve: bool) -> None:
    """A ready demo: database, seeded units and users (passwords printed), served locally."""
    app = create_app({"DEMO": True, "MFA_REQUIRED": False})
    with app.app_context():
        upgrade_database()
        accounts = seed_demo()
    click.echo("\nCSI-QMS demo. Multi-factor authentication is OFF in the demo.\nDemo accounts:")
    for account in accounts:
        click.echo(f"  {account.username:<12} {account.password:<28} {account.description}")
    if no_serve:
        return
    # SIGTERM (how a service manager or a test stops the demo) unwinds like Ctrl+C, so the worker stops too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    worker = _start_worker()
    click.echo(f"\nServing on http://{host}:{port}/ with a correlation worker (pid {worker.pid})  (Ctrl+C stops)")
    sys.stdout.flush()
    try:
        serve(app, host=host, port=port, threads=8, ident="CSI-QMS")
    except OSError as error:  # most often the port is taken, e.g. by another demo
        raise click.ClickException(f"Cannot serve on {host}:{port}: {error.strerror or error}.") from None
    finally:
        _stop_worker(worker)


def _start_worker():  # type: ignore[no-untyped-def]
    """`qms worker` beside the demo server, on the same instance folder (the environment is inherited)."""
    return subprocess.Popen([sys.executable, "-c", "from qms.cli import main; main()", "worker", "--workers", "2",
                             "--parent-pid", str(os.getpid())])


def _stop_worker(worker) -> None:  # type: ignore[no-untyped-def]
    worker.terminate()  # huey finishes the running job on SIGTERM... or is killed after 20 s
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()


for _command in COMMANDS:
    main.add_command(_command)


if __name__ == "__main__":  # `python -m qms.cli …` where the `qms` script is not on the PATH
    main()
