"""PDF rendering: Jinja HTML to PDF with WeasyPrint, sandboxed to the package's own files.

Fonts (DejaVu: Latin, Cyrillic and the letters of Albanian) are embedded from `static/fonts`, so a
document looks the same on every server. WeasyPrint may read only files under `qms/static`;
any other URL (file://, http://, data: aside) is refused, so a record's text can never make the
renderer fetch something.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import render_template
from markupsafe import Markup

STATIC = Path(__file__).parent / "static"
STATIC_URL = "qms-static:/"


class PdfResourceRefused(ValueError):
    """A template asked WeasyPrint for something outside the package's static files."""


def _static_file(url: str) -> Path:
    if not url.startswith(STATIC_URL):
        raise PdfResourceRefused(f"PDF rendering may only use the application's own files, not {url[:80]!r}")
    path = (STATIC / url.removeprefix(STATIC_URL).lstrip("/")).resolve()
    if STATIC.resolve() not in path.parents or not path.is_file():
        raise PdfResourceRefused(f"no such static file: {url[:80]!r}")
    return path


def _fetcher():  # type: ignore[no-untyped-def]
    """A WeasyPrint URL fetcher that serves data: URIs and our static files, and nothing else."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("data:"):
                return super().fetch(url, headers)
            path = _static_file(url)
            return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": _mime(path)})

    return StaticOnlyFetcher(allowed_protocols=("data", "qms-static"))


def _mime(path: Path) -> str:
    return {".css": "text/css", ".ttf": "font/ttf", ".png": "image/png", ".svg": "image/svg+xml"}.get(
        path.suffix, "application/octet-stream")


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def page_counter() -> Markup:
    """The CSS `content` of the page number in the reader's language ("Page 2 of 7", "Страница 2 од 7"):
    the translated sentence with its two numbers replaced by CSS counters, so a language may order them."""
    from flask_babel import gettext

    sentence = gettext("Page %(page)s of %(pages)s", page="\x00page\x00", pages="\x00pages\x00")
    parts = []
    for index, piece in enumerate(sentence.split("\x00")):
        if index % 2:
            parts.append(f"counter({'pages' if piece == 'pages' else 'page'})")
        elif piece:
            parts.append(_css_string(piece))
    return Markup(" ".join(parts))


def render_pdf(template: str, **context: Any) -> bytes:
    """Render a Jinja template (autoescaped HTML) to PDF bytes.

    Templates extend `pdf/base.html`, which embeds the fonts and the print stylesheet; images
    produced at run time (charts, QR codes) are passed in as inline SVG or data: URIs.
    """
    from weasyprint import HTML

    html = render_template(template, static_url=STATIC_URL, page_counter=page_counter, **context)
    document = HTML(string=html, base_url=STATIC_URL, url_fetcher=_fetcher())
    return document.write_pdf()
