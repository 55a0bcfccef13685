"""The refusal family and the one handler that turns errors into pages and JSON problem bodies.

Services refuse by raising a `Refused` (or one of its kinds); views and API functions never
catch them. The handler ends the request's unit of work (roll back, or commit when the refusal
keeps its work, as a failed password attempt must be kept for the throttle), then answers:
a JSON problem body under `/api/`, otherwise a flashed message and the page again.

"The page again" is, for a form posted to an action URL, the page the view names with
`@page_again("endpoint")`; otherwise the page shown by a GET of the same URL; otherwise the
error page with the reason.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from flask import Flask, current_app, flash, g, jsonify, render_template, request
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, default_exceptions
from werkzeug.routing import IntegerConverter
from werkzeug.routing.exceptions import RoutingException
from werkzeug.exceptions import NotFound as RouteNotFound, MethodNotAllowed

from qms.identifiers import MAX_RECORD_ID

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class Refused(Exception):
    """An action a service refuses; the message is safe to show and says what to do next.

    `status` is the HTTP status the refusal answers with; `keeps_work` says whether what the
    request recorded before the refusal is committed (a failed password attempt) or rolled back.
    `errors` maps form fields (or API fields) to their reasons, when the refusal is about input.
    """

    status: ClassVar[int] = 400
    keeps_work: ClassVar[bool] = False

    def __init__(self, message: str, *, errors: Mapping[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = dict(errors or {})

    def __str__(self) -> str:
        return self.message


class InvalidInput(Refused):
    """The input cannot be used as given (a field is missing, out of range or malformed)."""

    status = 400

    @classmethod
    def from_form(cls, form: Any) -> InvalidInput:
        """The reasons of a WTForms form that did not validate, field by field."""
        errors = {name: [str(e) for e in messages] for name, messages in form.errors.items()}
        labels = "; ".join(f"{_label(form, name)}: {' '.join(messages)}" for name, messages in errors.items())
        return cls(_("Some fields need attention: %(fields)s", fields=labels), errors=errors)


class NotPermitted(Refused):
    """The person may not do this (role, unit, independence, authorisation)."""

    status = 403


class NotFound(Refused):
    """The record does not exist for this reader (another unit's record is not found either)."""

    status = 404


class StateConflict(Refused):
    """The record's state does not allow this now (already decided, submitted, closed...)."""

    status = 409


class TooLarge(Refused):
    """The upload or request is larger than the limit."""

    status = 413


class AuthenticationFailed(Refused):
    """A password or code was wrong; the attempt itself is kept for the throttle."""

    status = 403
    keeps_work = True


class Throttled(Refused):
    """Too many failed attempts: wait before the next one; the refusal is recorded."""

    status = 429
    keeps_work = True


def check_form(form: Any) -> None:
    """Refuse a form that does not validate, with its reasons field by field."""
    if not form.validate():
        raise InvalidInput.from_form(form)


def page_again(endpoint: str) -> Callable[[F], F]:
    """Declare the page a refusal of this (action) view shows again, e.g. the item page for a transfer."""

    def mark(view: F) -> F:
        view.refusal_page = endpoint  # type: ignore[attr-defined]
        return view

    return mark


def _label(form: Any, name: str) -> str:
    field = getattr(form, name, None)
    return str(field.label.text) if field is not None and hasattr(field, "label") else name


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


# --- the unit of work ---------------------------------------------------------------------------

def _end_work(keep: bool) -> None:
    """Close the request's unit of work before the answer is rendered: the page again reads only."""
    from qms.extensions import db

    if keep:
        try:
            db.session.commit()
            return
        except Exception:  # noqa: BLE001 - a commit that fails leaves nothing half-done
            log.warning("a refusal's kept work could not be committed on %s %s", request.method, request.path)
    db.session.rollback()


# --- answers -----------------------------------------------------------------------------------

def _problem(code: int, name: str, message: str, errors: Mapping[str, Any] | None = None):  # type: ignore[no-untyped-def]
    body: dict[str, Any] = {"code": code, "status": name, "message": message}
    if errors:
        body["errors"] = dict(errors)
    return jsonify(body), code


def _error_page(code: int, description: str):  # type: ignore[no-untyped-def]
    template = f"errors/{code}.html" if code in (403, 404, 429, 500) else "errors/generic.html"
    error = default_exceptions.get(code, HTTPException)(description=description)
    error.code = code  # the name shown is the status's own phrase
    return render_template(template, error=error, code=code, description=description), code


def _page_endpoint() -> tuple[str, dict[str, Any]] | None:
    """The GET page to show again after a refused POST, with its URL arguments."""
    view = current_app.view_functions.get(request.endpoint or "")
    declared = getattr(view, "refusal_page", None)
    args = dict(request.view_args or {})
    if declared is None:
        if request.method == "GET":
            return None
        try:
            declared, args = current_app.url_map.bind("").match(request.path, method="GET")
        except (RouteNotFound, MethodNotAllowed, RoutingException):
            return None
    rule = next(iter(current_app.url_map.iter_rules(declared)), None)
    if rule is None or not rule.arguments <= set(args):
        return None
    return declared, {name: args[name] for name in rule.arguments}


def _page_again(status: int):  # type: ignore[no-untyped-def]
    """Render the page the refused form came from, with the submitted values, under `status`."""
    target = _page_endpoint()
    if target is None:
        return None
    endpoint, args = target
    try:
        body = current_app.view_functions[endpoint](**args)
    except Exception:  # noqa: BLE001 - the page could not be shown: the plain refusal page answers
        log.info("refusal page %s could not be shown again", endpoint, exc_info=True)
        from qms.extensions import db

        db.session.rollback()
        return None
    response = current_app.make_response(body)
    if response.status_code != 200:
        return None
    response.status_code = status
    return response


def handle_refusal(error: Refused):  # type: ignore[no-untyped-def]
    _end_work(error.keeps_work)
    if wants_json():
        return _problem(error.status, _status_name(error.status), error.message, error.errors)
    flash(error.message, "error")
    page = _page_again(error.status)
    if page is not None:
        return page
    return _error_page(error.status, error.message)


# The statuses a page may answer with, named for people (the JSON `status` keeps HTTP's own phrase).
STATUS_TITLES = {400: _l("Bad request"), 401: _l("Log in first"), 403: _l("Not allowed"), 404: _l("Not found"),
                 405: _l("Method not allowed"), 409: _l("Conflict"), 413: _l("Too large"),
                 422: _l("Cannot be processed"), 429: _l("Too many attempts"), 500: _l("Something went wrong")}


def status_title(code: int) -> str:
    """The title of an error page, in the reader's language."""
    title = STATUS_TITLES.get(code)
    return str(title) if title is not None else _("Error %(code)s", code=code)


def _status_name(code: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"


def render_error(error: HTTPException):  # type: ignore[no-untyped-def]
    _end_work(False)
    code = error.code or 500
    description = error.description if code != 500 else _("Something went wrong on our side. It has been logged.")
    if wants_json():
        messages = (getattr(error, "data", None) or {}).get("messages")
        if messages:  # field-by-field reasons from the API's input validation
            return _problem(code, error.name, _("The request has invalid fields: see 'errors'."), messages)
        response = _problem(code, error.name, str(description))
    else:
        template = f"errors/{code}.html" if code in (403, 404, 429, 500) else "errors/generic.html"
        response = render_template(template, error=error, code=code, description=description), code
    if code == 405 and isinstance(error, MethodNotAllowed) and error.valid_methods:
        response = current_app.make_response(response)
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return response


def handle_csrf(error: CSRFError):  # type: ignore[no-untyped-def]
    error.description = _("The form expired or was not sent from this site. Reload the page and try again.")
    return render_error(error)


def handle_unexpected(error: Exception):  # type: ignore[no-untyped-def]
    if isinstance(error, HTTPException):
        return render_error(error)
    from sqlalchemy.exc import IntegrityError

    if isinstance(error, IntegrityError):  # a concurrent change won a unique or foreign-key race
        return handle_refusal(StateConflict(conflict_message()))
    log.exception("unhandled error on %s %s (request %s)", request.method, request.path, g.get("request_id"))
    return render_error(InternalServerError())


def conflict_message() -> str:
    return _("Someone else changed this record at the same time. Reload the page and try again.")


class RecordId(IntegerConverter):
    """`<int:...>` in routes: an id beyond the database's integer range names no record (404, not an overflow)."""

    def __init__(self, map, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("max", MAX_RECORD_ID)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = RecordId  # before any blueprint adds its routes
    app.register_error_handler(Refused, handle_refusal)
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(Exception, handle_unexpected)
    app.jinja_env.globals["status_title"] = status_title
