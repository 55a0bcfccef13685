"""`qms import-library` and `qms documents-tick`."""
from __future__ import annotations

from typing import TYPE_CHECKING

import click
from flask.cli import with_appcontext

from qms.cli_units import unit_from_code

if TYPE_CHECKING:
    from sop_library.loader import SopTemplate


@click.command("import-library")
@click.option("--unit", "unit_code", required=True, help="Code of the unit that receives the SOP templates.")
@click.option("--language", "language", default=None, metavar="CODE",
              help="Import the templates translated into this language (e.g. mk, sq) where a translation "
                   "exists, English otherwise. Default: the unit's language, else English.")
@with_appcontext
def import_library(unit_code: str, language: str | None) -> None:
    """Import the SOP library's templates as drafts into a unit (codes it already has are skipped)."""
    from qms.documents import services
    from qms.errors import Refused
    from qms.extensions import db
    from qms.i18n.languages import BY_CODE
    from qms.trail.audited import set_actor
    from sop_library.loader import SOURCE_LOCALE, TemplateError, load_templates

    unit = unit_from_code(unit_code)
    language = (language or unit.language or SOURCE_LOCALE).strip()
    if language not in BY_CODE:
        raise click.ClickException(f"Unknown language {language!r}; choose one of: {', '.join(BY_CODE)}.")
    set_actor(db.session, user_id=None, username="import-library", unit_id=unit.id)
    try:
        templates = {t.code: t for t in load_templates(language)}
        created, skipped = services.import_library(unit.id, templates.values())
    except (TemplateError, Refused) as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"{unit.code}: {len(created)} SOP template(s) imported as drafts, {len(skipped)} already present.")
    for sop in created:
        click.echo(f"  {sop.code}  [{templates[sop.code].locale}]  {sop.title}")
    if language != SOURCE_LOCALE:
        click.echo(_languages_summary([templates[sop.code] for sop in created], BY_CODE[language].english_name))


def _languages_summary(imported: list[SopTemplate], language_name: str) -> str:
    """Which imported templates came in the asked language and which in English for lack of a translation."""
    translated = [t.code for t in imported if t.is_translation]
    english = [t.code for t in imported if not t.is_translation]
    lines = [f"In {language_name}: {', '.join(translated) or 'none'}."]
    if english:
        lines.append(f"In English (no {language_name} translation yet): {', '.join(english)}.")
    if translated:
        lines.append("The translations are drafts: check who translated and reviewed them in each SOP's history.")
    return "\n".join(lines)


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
