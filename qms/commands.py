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
from qms.backup.cli import backup_command, restore_command
from qms.auth import services
from qms.auth.models import Role
from qms.cli_units import unit_from_code
from qms.comparisons.cli import calibrate, exchange_group, worker
from qms.documents.cli import documents_tick, import_library
from qms.evidence.cli import custody
from qms.i18n.cli import translations
from qms.notify.cli import notify_command
from qms.errors import Refused
from qms.extensions import db
from qms.trail.audited import audit_reason, set_actor


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
    except Refused as error:
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
    except Refused as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"User {user.username} created in {unit.code} as {', '.join(roles)}.")


@click.command("reset-password")
@click.option("--user", "username", required=True, help="User name of the account.")
@click.option("--reset-mfa", is_flag=True, help="The authenticator is lost too: MFA is off until they enrol again.")
@click.option("--reason", default="reset by the operator (qms reset-password)", show_default=True,
              help="Kept in the audit trail.")
@with_appcontext
def reset_password_command(username: str, reset_mfa: bool, reason: str) -> None:
    """Issue a one-time password reset code for an account (for the operator, e.g. the only administrator)."""
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


@click.command("authorise")
@click.option("--unit", "unit_code", required=True, help="Code of the unit.")
@click.option("--user", "username", required=True, help="User name of the member.")
@click.option("--scope", "scopes", multiple=True, required=True,
              help="Code of a scope of authorisation (repeat the option for several), e.g. comparison.")
@click.option("--until", "until", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Last day of validity (YYYY-MM-DD); open-ended without it.")
@click.option("--reason", required=True, help="Why the operator grants it (e.g. the paper record it comes from).")
@with_appcontext
def authorise_command(unit_code: str, username: str, scopes: tuple[str, ...], until, reason: str) -> None:  # type: ignore[no-untyped-def]
    """Grant a member's first authorisations when a unit is set up (quality managers sign all later ones)."""
    from qms.people import services as people

    unit = unit_from_code(unit_code)
    user = services.find_user(username)
    if user is None:
        raise click.ClickException(f"No user named {username!r}.")
    set_actor(db.session, user_id=None, username="operator (CLI)", unit_id=unit.id)
    try:
        people.authorise_by_operator(unit.id, user, scopes, reason=reason, valid_until=until.date() if until else None)
    except Refused as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"{user.username} is authorised in {unit.code} for: {', '.join(scopes)}.")


COMMANDS = (init_command, create_unit_command, create_user_command, reset_password_command, authorise_command,
            import_library,
            documents_tick, custody, audits, worker, calibrate, exchange_group, backup_command, restore_command,
            notify_command, translations)


def init_app(app) -> None:  # type: ignore[no-untyped-def]
    """Make the same commands available as `flask --app qms ...`."""
    for command in COMMANDS:
        app.cli.add_command(command)
