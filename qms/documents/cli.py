"""`qms import-library` and `qms documents-tick`."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from qms.cli_units import unit_from_code


@click.command("import-library")
@click.option("--unit", "unit_code", required=True, help="Code of the unit that receives the SOP templates.")
@with_appcontext
def import_library(unit_code: str) -> None:
    """Import the SOP library's templates as drafts into a unit (codes it already has are skipped)."""
    from qms.documents import services
    from qms.errors import Refused
    from qms.extensions import db
    from qms.trail.audited import set_actor
    from sop_library.loader import TemplateError, load_templates

    unit = unit_from_code(unit_code)
    set_actor(db.session, user_id=None, username="import-library", unit_id=unit.id)
    try:
        created, skipped = services.import_library(unit.id, load_templates())
    except (TemplateError, Refused) as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"{unit.code}: {len(created)} SOP template(s) imported as drafts, {len(skipped)} already present.")
    for sop in created:
        click.echo(f"  {sop.code}  {sop.title}")


@click.command("documents-tick")
@with_appcontext
def documents_tick() -> None:
    """Say which SOP revisions came into force today (all units); nothing is written.

    A revision is in force from its effective date by itself, so nothing needs applying; the
    command stays for schedules that still call it.
    """
    from sqlalchemy import select

    from qms.db import today
    from qms.documents.models import EventKind, RevisionEvent, Sop
    from qms.extensions import db

    stmt = (select(Sop.code)
            .join(RevisionEvent, RevisionEvent.revision_id == Sop.current_revision_id)
            .where(RevisionEvent.kind == EventKind.APPROVED.value, RevisionEvent.effective_on == today())
            .order_by(Sop.code))
    codes = list(db.session.scalars(stmt))
    click.echo(f"{len(codes)} revision(s) took effect today; revisions take effect on their date without this command.")
    for code in codes:
        click.echo(f"  {code}")
