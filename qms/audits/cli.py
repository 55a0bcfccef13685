"""`qms audits ...`: the PDF report of an audit and the list of overdue corrective actions."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from qms.cli_units import unit_from_code


@click.group("audits")
def audits() -> None:
    """Audits: reports and overdue corrective actions."""




@audits.command("report")
@click.argument("audit_id", type=int)
@click.option("--unit", "unit_code", required=True, help="Code of the unit the audit belongs to.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the PDF.")
@with_appcontext
def report_command(audit_id: int, unit_code: str, output: Path) -> None:
    """Write the PDF report of one audit of a unit."""
    from qms.audits.models import Audit
    from qms.audits.report import gap_report_pdf
    from qms.extensions import db

    unit = unit_from_code(unit_code)
    audit = db.session.get(Audit, audit_id)
    if audit is None or audit.unit_id != unit.id:
        raise click.ClickException(f"Unit {unit.code} has no audit {audit_id}.")
    try:
        output.write_bytes(gap_report_pdf(audit, generated_by="qms audits report"))
    except OSError as error:
        raise click.ClickException(f"Cannot write {output}: {error.strerror}.") from None
    click.echo(f"{output}: report of audit {audit.id} ({audit.title}), {audit.status.replace('_', ' ')}.")


@audits.command("overdue")
@click.option("--unit", "unit_code", required=True, help="Code of the unit.")
@with_appcontext
def overdue_command(unit_code: str) -> None:
    """List a unit's overdue corrective actions (for a daily reminder by mail or chat)."""
    from sqlalchemy import select

    from qms.audits.models import CorrectiveAction
    from qms.audits.services import OPEN_ACTION_STATES
    from qms.db import today
    from qms.extensions import db

    unit = unit_from_code(unit_code)
    stmt = (select(CorrectiveAction).where(CorrectiveAction.unit_id == unit.id,
                                           CorrectiveAction.status.in_(OPEN_ACTION_STATES),
                                           CorrectiveAction.due_on < today())
            .order_by(CorrectiveAction.due_on))
    rows = list(db.session.scalars(stmt))
    for action in rows:
        click.echo(f"{action.due_on}  {action.owner.username:<16} {action.status:<12} {action.title}")
    click.echo(f"{unit.code}: {len(rows)} overdue corrective action(s).")
