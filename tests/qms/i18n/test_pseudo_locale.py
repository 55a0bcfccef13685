"""Every GET page rendered in the pseudo-locale `en_XA`: visible text outside the markers is a string
that did not go through gettext (the rule of what counts is in visible_text.py).

The pages are those of the access test's route walk, read by unit B's quality manager, who is also
its administrator (the walk's URLs name unit B's records, and both roles' pages are shown), plus
the public pages read anonymously. PDFs are checked through the HTML they are printed from. Every
page is wrapped: any text outside the markers fails the test and is named with its page.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask, template_rendered
from flask_babel import refresh
from jinja2 import Template

from qms.auth.permissions import access_of
from qms.extensions import db
from tests.conftest import login
from tests.qms.i18n.visible_text import unformatted_moments, unwrapped, user_data
from tests.qms.test_access import World, _rules, _url

PSEUDO = {"Accept-Language": "en-XA"}
ANONYMOUS = "(anonymous) "

@pytest.fixture()
def app_config(app_config):  # type: ignore[no-untyped-def]
    return {**app_config, "PSEUDO_LOCALE": True}


def _stored_text() -> list[str]:
    """Every string stored in the database (user data), read straight from the tables."""
    values: set[str] = set()
    usernames: set[str] = set()

    def collect(value: object, into: set[str]) -> None:
        if isinstance(value, str):
            into.add(value)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item, into)
        elif isinstance(value, list):
            for item in value:
                collect(item, into)

    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (sa.String, sa.Text, sa.JSON))]
            if not columns:
                continue
            for row in connection.execute(sa.select(*columns)):
                for column, value in zip(columns, row, strict=True):
                    collect(value, usernames if column.name == "username" else values)
    return user_data(values, usernames)


def _pages(app: Flask, world: World, client, *, anonymous: bool):  # type: ignore[no-untyped-def]
    """(name, HTML) of every GET page, not the API, not a redirect. A PDF is checked through the HTML it
    was printed from: its template rendered again with the same context (text in a PDF has no markup
    left to tell a code or a date from a sentence)."""
    printed: list[tuple[Template, dict]] = []

    def keep(sender, template, context, **extra):  # type: ignore[no-untyped-def]
        printed.append((template, dict(context)))

    with template_rendered.connected_to(keep, app):
        for rule in _rules(app):
            if "GET" not in rule.methods or rule.rule.startswith(("/api/", "/static")):
                continue
            if anonymous:
                access = access_of(app.view_functions.get(rule.endpoint))
                if access is None or not access.public:
                    continue
            printed.clear()
            response = client.get(_url(rule, world.params), headers=PSEUDO)
            assert response.status_code < 500, f"{rule.rule} answered {response.status_code}"
            name = (ANONYMOUS if anonymous else "") + rule.rule
            if 300 <= response.status_code < 400:
                continue
            if response.content_type.startswith("text/html"):
                yield name, response.get_data(as_text=True)
            elif response.content_type.startswith("application/pdf") and printed:  # else a stored file, user data
                yield name, _printed_html(app, printed)


def _printed_html(app: Flask, printed: list) -> str:
    """The HTML a PDF was printed from, rendered again in the pseudo-locale."""
    template, context = printed[-1]
    with app.test_request_context(headers=PSEUDO):
        refresh()
        return template.render(context)


def test_every_page_in_the_pseudo_locale_shows_only_translated_text(app: Flask, world: World):
    signed_in = app.test_client()
    assert login(signed_in, "markerb").status_code == 302  # unit B's administrator and quality manager
    data = _stored_text()
    findings: dict[str, list[str]] = {}
    rendered: set[str] = set()
    for client, anonymous in ((signed_in, False), (app.test_client(), True)):
        for name, html in _pages(app, world, client, anonymous=anonymous):
            assert 'lang="en-XA"' in html, f"{name} is not rendered in the pseudo-locale"
            rendered.add(name)
            stray = unwrapped(html, data) + [f"date not formatted for the reader: {line}"
                                             for line in unformatted_moments(html, data)]
            if stray:
                findings[name] = stray
    print(f"pseudo-locale walk: {len(rendered)} pages, {len(findings)} with unwrapped text")
    report = "\n".join(f"{name}:\n    " + "\n    ".join(lines[:6]) for name, lines in sorted(findings.items()))
    assert not findings, f"pages with text outside gettext (wrap it, see visible_text.py):\n{report}"
