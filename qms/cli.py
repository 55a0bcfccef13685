"""The `qms` command: set-up, accounts, the demo, and Flask's own commands."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from qms.auth.models import Role


def _create_app():  # type: ignore[no-untyped-def]
    from qms import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True, add_version_option=False)
def main() -> None:
    """CSI-QMS: quality management, chain of custody and ballistic intelligence."""


def upgrade_database() -> None:
    """Bring the database schema to the newest migration."""
    from flask_migrate import upgrade

    Path(current_app.config["INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)
    # "heads": domains add their migrations on branches from the foundation until merged.
    upgrade(directory=str(Path(current_app.root_path) / "migrations"), revision="heads")


@main.command("init")
@with_appcontext
def init_command() -> None:
    """Create or upgrade the database (apply every migration)."""
    upgrade_database()
    click.echo(f"Database ready: {current_app.config['DATABASE_URL'].split('@')[-1]}")


@main.command("create-unit")
@click.option("--code", required=True, help="Short unique code, e.g. MK-FC.")
@click.option("--name", required=True, help='e.g. "Forensic Centre, Ministry of Interior".')
@click.option("--country", default="", help="ISO 3166 two-letter code.")
@with_appcontext
def create_unit_command(code: str, name: str, country: str) -> None:
    """Add a unit (an agency or jurisdiction)."""
    from qms.auth import services
    from qms.extensions import db

    from qms.errors import Refused

    try:
        unit = services.create_unit(code=code, name=name, country=country)
    except Refused as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Unit {unit.code} created (id {unit.id}).")


@main.command("create-user")
@click.option("--username", required=True)
@click.option("--full-name", required=True)
@click.option("--unit", "unit_code", required=True, help="Code of the unit the user joins.")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice([r.value for r in Role]))
@click.option("--email", default="")
@click.password_option(help="At least 12 characters, not a common password.")
@with_appcontext
def create_user_command(username: str, full_name: str, unit_code: str, roles: tuple[str, ...],
                        email: str, password: str) -> None:
    """Add a user with roles in a unit."""

    from qms.auth import services
    from qms.cli_units import unit_from_code
    from qms.errors import Refused
    from qms.extensions import db

    unit = unit_from_code(unit_code)
    try:
        user = services.create_user(username=username, full_name=full_name, email=email, password=password,
                                    unit=unit, roles=tuple(Role(r) for r in roles))
    except Refused as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"User {user.username} created in {unit.code} as {', '.join(roles)}.")


@main.command("reset-password")
@click.option("--user", "username", required=True, help="User name of the account.")
@click.option("--reset-mfa", is_flag=True, help="The authenticator is lost too: MFA is off until they enrol again.")
@click.option("--reason", default="reset by the operator (qms reset-password)", show_default=True,
              help="Kept in the audit trail.")
@with_appcontext
def reset_password_command(username: str, reset_mfa: bool, reason: str) -> None:
    """Issue a one-time password reset code for an account (for the operator, e.g. the only administrator)."""
    from qms.auth import services
    from qms.errors import Refused
    from qms.extensions import db
    from qms.trail.audited import audit_reason, set_actor

    user = services.find_user(username)
    if user is None:
        raise click.ClickException(f"No user named {username!r}.")
    set_actor(db.session, user_id=None, username="operator (CLI)", unit_id=None)
    try:
        with audit_reason(db.session, reason):
            reset, code = services.issue_password_reset(user, issued_by=None, reset_mfa=reset_mfa)
    except Refused as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"One-time reset code for {user.username}: {code}")
    click.echo(f"It works once, at /reset-password, until {reset.expires_at:%Y-%m-%d %H:%M} UTC.")


@main.command("demo", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Prepare the demo database and accounts, do not serve.")
def demo_command(host: str, port: int, no_serve: bool) -> None:
    """A ready demo: database, seeded units and users (passwords printed), served locally."""
    from qms import create_app
    from qms.demo import seed_demo

    app = create_app({"DEMO": True, "MFA_REQUIRED": False})
    with app.app_context():
        upgrade_database()
        accounts = seed_demo()
    click.echo("\nCSI-QMS demo. Multi-factor authentication is OFF in the demo.\nDemo accounts:")
    for account in accounts:
        click.echo(f"  {account.username:<12} {account.password:<28} {account.description}")
    if no_serve:
        return
    from waitress import serve

    import signal

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
    import subprocess

    return subprocess.Popen([sys.executable, "-c", "from qms.cli import main; main()", "worker", "--workers", "2",
                             "--parent-pid", str(os.getpid())])


def _stop_worker(worker) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    worker.terminate()  # huey finishes the running job on SIGTERM... or is killed after 20 s
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()


def _add_domain_commands() -> None:
    from qms.audits.cli import audits
    from qms.comparisons.cli import calibrate, exchange_group, worker
    from qms.documents.cli import documents_tick, import_library
    from qms.evidence.cli import custody

    for command in (import_library, documents_tick, custody, audits, worker, calibrate, exchange_group):
        main.add_command(command)


_add_domain_commands()
OWN_COMMANDS = ("init", "create-unit", "create-user", "demo", "import-library", "documents-tick", "custody", "audits",
                "worker", "calibrate", "exchange")


def init_app(app) -> None:  # type: ignore[no-untyped-def]
    """Make the same commands available as `flask --app qms ...`."""
    for name in OWN_COMMANDS:
        app.cli.add_command(main.commands[name])
