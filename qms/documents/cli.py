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
    from sop_library.loader import TemplateError, load_templates

    from qms.documents import services
    from qms.extensions import db
    from qms.trail.audited import set_actor

    unit = unit_from_code(unit_code)
    set_actor(db.session, user_id=None, username="import-library", unit_id=unit.id)
    try:
        created, skipped = services.import_library(unit.id, load_templates())
    except (TemplateError, services.DocumentError) as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"{unit.code}: {len(created)} SOP template(s) imported as drafts, {len(skipped)} already present.")
    for sop in created:
        click.echo(f"  {sop.code}  {sop.title}")


@click.command("documents-tick")
@with_appcontext
def documents_tick() -> None:
    """Put approved SOP revisions whose effective date has come into force (all units)."""
    from qms.documents import services
    from qms.extensions import db
    from qms.trail.audited import set_actor

    set_actor(db.session, user_id=None, username="documents-tick", unit_id=None)
    done = services.apply_due_revisions()
    db.session.commit()
    click.echo(f"{len(done)} revision(s) took effect.")
