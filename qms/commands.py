"""The `qms` commands of the application itself and of its domains, for `qms` and `flask --app qms`.

`qms.cli` adds them to the `qms` command; `create_app` adds them to the app's own command group.
"""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from qms.audits.cli import audits
from qms.auth import services
from qms.auth.models import Role
from qms.auth.passwords import PasswordPolicyError
from qms.cli_units import unit_from_code
from qms.comparisons.cli import calibrate, exchange_group, worker
from qms.documents.cli import documents_tick, import_library
from qms.evidence.cli import custody
from qms.extensions import db


def upgrade_database() -> None:
    """Bring the database schema to the newest migration."""
    Path(current_app.config["INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)
    # "heads": domains add their migrations on branches from the foundation until merged.
    upgrade(directory=str(Path(current_app.root_path) / "migrations"), revision="heads")


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create or upgrade the database (apply every migration)."""
    upgrade_database()
    click.echo(f"Database ready: {current_app.config['DATABASE_URL'].split('@')[-1]}")


@click.command("create-unit")
@click.option("--code", required=True, help="Short unique code, e.g. MK-FC.")
@click.option("--name", required=True, help='e.g. "Forensic Centre, Ministry of Interior".')
@click.option("--country", default="", help="ISO 3166 two-letter code.")
@with_appcontext
def create_unit_command(code: str, name: str, country: str) -> None:
    """Add a unit (an agency or jurisdiction)."""
    try:
        unit = services.create_unit(code=code, name=name, country=country)
    except services.AccountError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Unit {unit.code} created (id {unit.id}).")


@click.command("create-user")
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
    unit = unit_from_code(unit_code)
    try:
        user = services.create_user(username=username, full_name=full_name, email=email, password=password,
                                    unit=unit, roles=tuple(Role(r) for r in roles))
    except (services.AccountError, PasswordPolicyError) as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"User {user.username} created in {unit.code} as {', '.join(roles)}.")


COMMANDS = (init_command, create_unit_command, create_user_command, import_library, documents_tick, custody, audits,
            worker, calibrate, exchange_group)


def init_app(app) -> None:  # type: ignore[no-untyped-def]
    """Make the same commands available as `flask --app qms ...`."""
    for command in COMMANDS:
        app.cli.add_command(command)
