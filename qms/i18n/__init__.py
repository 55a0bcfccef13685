"""Languages, time zones and local formats: Flask-Babel set up with the catalogues of qms/translations/.

`init_app` compiles stale catalogues (see `catalogues`), points Flask-Babel at them with the
language and time zone selectors of `selection`, and gives templates the page's language, the
language switch and a filter for local times.
"""
from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, date, datetime
from typing import Any

from flask import Flask, has_request_context
from flask_babel import force_locale, format_date, format_datetime, get_locale, refresh, to_user_timezone
from markupsafe import Markup, escape

from qms.extensions import babel
from qms.i18n import catalogues, selection
from qms.i18n.languages import LANGUAGES


def html_lang() -> str:
    """The page's `lang` attribute: BCP 47 (`sr-Latn-ME`), from the locale the request is answered in."""
    locale = get_locale() if has_request_context() else None
    return str(locale or "en").replace("_", "-")


def current_language() -> str:
    return str(get_locale() or "en") if has_request_context() else "en"


def local_datetime(value: datetime | str | None, *, offset: bool = True) -> Markup:
    """A stored (naive UTC) time in the unit's zone, formatted for the reader, with its UTC offset; also
    from the ISO text that JSON documents carry (a calibration's fitting time).

    The offset makes the moment unambiguous on evidence (custody events), whatever the reader's zone;
    the machine-readable UTC instant is in the `datetime` attribute.
    """
    if not value:
        return Markup("")
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    instant = aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Markup('<time datetime="{0}">{1}</time>').format(instant, escape(moment_text(aware, offset=offset)))


def moment_text(value: datetime, *, offset: bool = True) -> str:
    """`local_datetime` as plain text, for messages: refusals and flashed notices name times as pages do."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    text = format_datetime(aware, "medium")
    if offset:
        stamp = to_user_timezone(aware).strftime("%z")
        text += f" (UTC{stamp[:3]}:{stamp[3:]})"
    return text


def local_date(value: date | str | None, format: str = "medium") -> Markup:
    """A calendar date in the reader's format (`<time>` keeps the ISO date for machines); also from the
    ISO text that exports carry (the link chart's rows)."""
    if not value:
        return Markup("")
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return Markup('<time datetime="{0}">{1}</time>').format(value.isoformat(), format_date(value, format))


def moments_for_the_reader(value: Any) -> Any:
    """Jinja's `finalize`: a date or time printed as it is (`{{ sop.next_review_on }}`) comes out in the
    reader's format and the unit's zone, never as Python's ISO text. Dates inside a {% trans %} block or a
    gettext call are not printed by Jinja: those go through `local_date` or `local_datetime` themselves."""
    if isinstance(value, datetime):
        return local_datetime(value)
    if isinstance(value, date):
        return local_date(value)
    return value


def _format_moments_in_messages(app: Flask) -> None:
    """The template gettext callables (what {% trans day=x %} and _() in templates call) format the dates
    and times among their variables as `moments_for_the_reader` does, instead of as Python's ISO text."""
    from jinja2 import pass_context

    def reader_moments(original: Any) -> Any:
        @pass_context
        def call(context: Any, *args: Any, **variables: Any) -> Any:
            return context.call(original, *args, **{key: moments_for_the_reader(value)
                                                     for key, value in variables.items()})
        return call

    for name in ("gettext", "ngettext", "pgettext", "npgettext", "_"):
        if name in app.jinja_env.globals:
            app.jinja_env.globals[name] = reader_moments(app.jinja_env.globals[name])


def in_language(code: str | None) -> AbstractContextManager[None]:
    """Render inside this block in another offered language (a report for a reader of another unit),
    or in the reader's own when no code is given. An unknown code is refused, not ignored: a report
    silently printed in the wrong language would be sent on as if it were right."""
    if not code:
        return nullcontext()
    if not selection.offered(code):
        from flask_babel import gettext

        from qms.errors import InvalidInput

        raise InvalidInput(gettext("There is no catalogue for the language %(code)s: choose one of the list.",
                                   code=code[:20]))
    return force_locale(code)


def offset_minutes(value: datetime) -> int:
    """The unit's UTC offset at a stored (naive UTC) moment, in minutes (compared with the offset an event recorded)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    delta = to_user_timezone(aware).utcoffset()
    return int(delta.total_seconds() // 60) if delta is not None else 0


def _context() -> dict[str, Any]:
    return {"html_lang": html_lang(), "current_language": current_language(), "languages": LANGUAGES}


def _forget_previous_request() -> None:
    # Under one long-lived app context (tests) `g`, where Flask-Babel caches the locale, outlives a request.
    refresh()


def init_app(app: Flask) -> None:
    app.config.setdefault("PSEUDO_LOCALE", False)
    pseudo = bool(app.config["PSEUDO_LOCALE"]) and app.testing  # never offered outside tests
    app.config["PSEUDO_LOCALE"] = pseudo
    directory = catalogues.compiled_directory(app.config["INSTANCE_PATH"], pseudo=pseudo)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(directory)
    babel.init_app(app, locale_selector=selection.select_locale, timezone_selector=selection.select_timezone)
    # {% trans %} blocks are looked up with their whitespace collapsed, as babel.cfg extracts them.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.before_request(_forget_previous_request)
    app.context_processor(_context)
    app.add_template_filter(local_datetime, "local_datetime")
    app.add_template_filter(offset_minutes, "offset_minutes")
    app.add_template_filter(local_date, "local_date")
    app.jinja_env.finalize = moments_for_the_reader
    _format_moments_in_messages(app)

