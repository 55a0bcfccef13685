"""The gettext catalogues: where they live, compiling them, their state, and the pseudo-locale.

The `.po` files under qms/translations/ are the source of truth and are committed; the compiled
`.mo` files are not. `compiled_directory` compiles the catalogues that are missing or older than
their `.po` when the app starts: in the package itself when it is writable (a checkout: compiled
once, then a few `stat` calls per start), else in the instance folder (an installed, read-only
package). Compiling takes a fraction of a second and needs nothing but Babel, so there is no build
step to forget and no binary file in the history. `qms translations compile` does the same ahead
of time, e.g. in an image build.

The pseudo-locale `en_XA` is generated from the template `messages.pot`: every message is wrapped in
markers and lengthened by a third, so a page rendered in it shows any string that did not go
through gettext as plain text (tests/qms/i18n/test_pseudo_locale.py).
"""
from __future__ import annotations

import functools
import io
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from qms.i18n.languages import BY_CODE, CATALOGUES, PSEUDO, SOURCE

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "translations"
TEMPLATE = PACKAGE_DIR / "messages.pot"
DOMAIN = "messages"
OPEN, CLOSE = "⟦", "⟧"  # pseudo-locale markers: rare in real text, so a stray one means a bug
PADDING = "·"
REVIEW_PREFIX = "Reviewed by a native speaker:"
TRANSLATOR_PREFIX = "Translated by:"


def po_path(code: str, directory: Path = PACKAGE_DIR) -> Path:
    return directory / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(code: str, directory: Path) -> Path:
    return directory / code / "LC_MESSAGES" / f"{DOMAIN}.mo"


def read_catalogue(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


# --- compiling ----------------------------------------------------------------------------------

def _sources(pseudo: bool) -> dict[str, Path]:
    """Each catalogue to compile and the file it is compiled from (the template for the pseudo-locale)."""
    sources = {code: po_path(code) for code in CATALOGUES if po_path(code).exists()}
    if pseudo and TEMPLATE.exists():
        sources[PSEUDO] = TEMPLATE
    return sources


def _stale(code: str, source: Path, directory: Path) -> bool:
    target = mo_path(code, directory)
    if not target.exists():
        return True
    newest = source.stat().st_mtime
    if code == PSEUDO:  # a change to the generator changes the catalogue too
        newest = max(newest, Path(__file__).stat().st_mtime)
    return target.stat().st_mtime < newest


def compile_catalogue(code: str, source: Path, directory: Path) -> Path:
    """Write `code`'s .mo into `directory` (atomically: a concurrent reader sees the old or the new file)."""
    catalog = pseudo_catalogue(read_catalogue(source)) if code == PSEUDO else read_catalogue(source, code)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    target = mo_path(code, directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(buffer.getvalue())
    os.replace(temporary, target)
    return target


def compile_stale(directory: Path, *, pseudo: bool = False) -> list[str]:
    """Compile every catalogue whose .mo in `directory` is missing or older than its source."""
    compiled = []
    for code, source in _sources(pseudo).items():
        if _stale(code, source, directory):
            compile_catalogue(code, source, directory)
            compiled.append(code)
    return compiled


def compiled_directory(instance_path: str | Path, *, pseudo: bool = False) -> Path:
    """The directory holding up-to-date .mo files: the package's if it can be written, else the instance's."""
    try:
        compile_stale(PACKAGE_DIR, pseudo=pseudo)
        return PACKAGE_DIR
    except OSError:  # a read-only installation
        fallback = Path(instance_path) / "translations"
        compile_stale(fallback, pseudo=pseudo)
        return fallback


# --- the pseudo-locale --------------------------------------------------------------------------

def pseudo_text(text: str) -> str:
    """`text` in markers, a third longer: the placeholders (%(name)s, {name}) are left as they are."""
    return f"{OPEN}{text}{PADDING * math.ceil(len(text) / 3)}{CLOSE}"


def pseudo_catalogue(template: Catalog) -> Catalog:
    """The pseudo-locale catalogue: every message of the template translated by `pseudo_text`."""
    catalog = Catalog(locale="en", domain=DOMAIN, project="CSI-QMS", fuzzy=False)
    for message in template:
        if not message.id:
            continue
        if isinstance(message.id, (list, tuple)):
            translation: object = tuple(pseudo_text(form) for form in message.id)
        else:
            translation = pseudo_text(message.id)
        catalog.add(message.id, translation, context=message.context, flags=message.flags - {"fuzzy"})
    return catalog


# --- the state of each catalogue -----------------------------------------------------------------

@dataclass(frozen=True)
class CatalogueState:
    code: str
    translated: int
    total: int
    translator: str
    review: str  # "no", or who reviewed it and when

    @property
    def percent(self) -> int:
        """Rounded down: a catalogue shows 100 only when every message is translated."""
        return 100 if self.total == 0 else self.translated * 100 // self.total

    @property
    def reviewed(self) -> bool:
        return self.review.strip().lower() not in ("", "no")


def _header_value(catalog: Catalog, prefix: str) -> str:
    for line in catalog.header_comment.splitlines():
        text = line.lstrip("#").strip()
        if text.startswith(prefix):
            return text.removeprefix(prefix).strip().rstrip(".")
    return ""


def is_translated(message) -> bool:  # type: ignore[no-untyped-def]
    if message.fuzzy:
        return False
    strings = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
    return all(strings)


def catalogue_state(code: str, directory: Path = PACKAGE_DIR) -> CatalogueState:
    """How much of a catalogue is translated, who translated it and whether a native speaker reviewed it."""
    if code == SOURCE:
        return CatalogueState(code, 1, 1, "the source language", "the source language")
    path = po_path(code, directory)
    return _state_of(code, path, path.stat().st_mtime_ns)  # read again only when the file changed


@functools.lru_cache(maxsize=64)
def _state_of(code: str, path: Path, _mtime_ns: int) -> CatalogueState:
    catalog = read_catalogue(path, code)
    messages = [message for message in catalog if message.id]
    return CatalogueState(code, sum(1 for m in messages if is_translated(m)), len(messages),
                          _header_value(catalog, TRANSLATOR_PREFIX), _header_value(catalog, REVIEW_PREFIX) or "no")


def header_comment(code: str) -> str:
    """The header of a new catalogue: which language, who drafted it, that nobody has reviewed it yet."""
    language = BY_CODE[code]
    return (f"# {language.english_name} ({code}) translations of CSI-QMS.\n"
            f"# {TRANSLATOR_PREFIX} the CSI-QMS project (a draft, written with the terms of the national\n"
            "# adoption of ISO/IEC 17020 where one exists).\n"
            f"# {REVIEW_PREFIX} no.\n"
            "# When a native speaker has reviewed it, write who and when on the line above\n"
            "# (the about page shows it).\n"
            "#")
