"""`qms translations`: extract the messages, update and compile the catalogues, show their state.

Extraction and update run from a checkout (they read the sources and babel.cfg beside qms/);
compiling and the statistics work in an installed package too. The commands call pybabel's own
implementation, so a catalogue written here is one pybabel would write.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import click
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import write_po

from qms.i18n import catalogues
from qms.i18n.languages import BY_CODE, CATALOGUES, LANGUAGES

ROOT = catalogues.PACKAGE_DIR.parent.parent  # the checkout: babel.cfg and qms/
CONFIG = ROOT / "babel.cfg"


def _pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "--quiet", *args])


def _checkout() -> None:
    if not CONFIG.exists():
        raise click.ClickException(f"{CONFIG} is missing: extract and update from a checkout of CSI-QMS.")


@click.group("translations")
def translations() -> None:
    """Message catalogues (qms/translations): extract, update, init, compile, stats."""


def extract_template(output: Path) -> None:
    """Extract every message of the Python sources and templates into `output` (a .pot file)."""
    _checkout()
    from importlib.metadata import version

    output.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.chdir(ROOT):  # locations relative to the checkout, the same on every machine
        _pybabel("extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "-k", "lazy_pgettext:1c,2",
                 "--add-comments", "Translators:",
                 "--project", "CSI-QMS", "--version", version("csi-qms"), "--copyright-holder", "CSI-QMS contributors",
                 "--sort-by-file", "--no-wrap", "--add-location", "file",  # no line numbers: fewer conflicts
                 "-o", str(output.resolve()), "qms")


@translations.command("extract")
def extract_command() -> None:
    """Write qms/translations/messages.pot from the Python sources and the templates."""
    extract_template(catalogues.TEMPLATE)
    count = sum(1 for message in catalogues.read_catalogue(catalogues.TEMPLATE) if message.id)
    click.echo(f"{catalogues.TEMPLATE.relative_to(ROOT)}: {count} messages")


@translations.command("update")
@click.option("--no-extract", is_flag=True, help="Use messages.pot as it is.")
def update_command(no_extract: bool) -> None:
    """Extract, then bring every catalogue up to date with the template (new messages untranslated, never fuzzy)."""
    if not no_extract:
        extract_command.callback()  # type: ignore[misc]
    for code in CATALOGUES:
        if not catalogues.po_path(code).exists():
            init_catalogue(code)
    # No fuzzy matching: a guessed translation of a changed message would ship unseen (the tests refuse fuzzy).
    _pybabel("update", "-i", str(catalogues.TEMPLATE), "-d", str(catalogues.PACKAGE_DIR), "--no-fuzzy-matching",
             "--no-wrap", "--ignore-pot-creation-date")
    for code in CATALOGUES:
        _unflag_empty(catalogues.po_path(code), code)
    stats_command.callback()  # type: ignore[misc]


def _unflag_empty(path: Path, code: str) -> None:
    """Drop "fuzzy" where there is no translation to doubt (pybabel flags a message that became plural).

    A fuzzy message that has a translation keeps its flag: someone must check it (the tests insist).
    """
    catalog = catalogues.read_catalogue(path, code)
    empty = [m for m in catalog if m.id and m.fuzzy and not any(
        m.string if isinstance(m.string, (list, tuple)) else (m.string,))]
    if not empty:
        return
    for message in empty:
        message.flags.discard("fuzzy")
    with path.open("wb") as handle:
        write_po(handle, catalog, width=0)


def init_catalogue(code: str) -> Path:
    """A new catalogue for a shipped language, with the header that says who drafted it and its review."""
    template = catalogues.read_catalogue(catalogues.TEMPLATE)
    catalog = Catalog(locale=code, domain=catalogues.DOMAIN, header_comment=catalogues.header_comment(code),
                      project="CSI-QMS", version=template.version, fuzzy=False,
                      last_translator="CSI-QMS project (draft, not reviewed)",
                      language_team=f"{BY_CODE[code].english_name} (not yet reviewed by a native speaker)")
    catalog.update(template, no_fuzzy_matching=True)
    path = catalogues.po_path(code)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=0)
    return path


@translations.command("init")
@click.argument("code", type=click.Choice(CATALOGUES))
def init_command(code: str) -> None:
    """Create the catalogue of a shipped language that has none yet."""
    if catalogues.po_path(code).exists():
        raise click.ClickException(f"{code} has a catalogue already: `qms translations update` keeps it current.")
    click.echo(f"created {init_catalogue(code).relative_to(ROOT)}")


@translations.command("compile")
@click.option("--into", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for the .mo files (default: beside the catalogues).")
def compile_command(into: Path | None) -> None:
    """Compile every catalogue (the app also compiles stale ones when it starts)."""
    directory = into or catalogues.PACKAGE_DIR
    for code in CATALOGUES:
        catalogues.compile_catalogue(code, catalogues.po_path(code), directory)
    click.echo(f"compiled {len(CATALOGUES)} catalogues into {directory}")


@translations.command("stats")
def stats_command() -> None:
    """How much of each catalogue is translated, and whether a native speaker reviewed it."""
    for language in LANGUAGES[1:]:
        state = catalogues.catalogue_state(language.code)
        reviewed = f"reviewed: {state.review}" if state.reviewed else "not reviewed"
        click.echo(f"{language.code:<11} {language.english_name:<19} {state.percent:>3} %  "
                   f"({state.translated}/{state.total})  {reviewed}")
