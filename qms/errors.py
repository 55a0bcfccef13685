"""Error pages and JSON errors: a clear reason, never a stack trace."""
from __future__ import annotations

import logging

from flask import Flask, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.routing import IntegerConverter

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def render_error(error: HTTPException):  # type: ignore[no-untyped-def]
    from qms.transactions import mark_failed

    mark_failed()
    code = error.code or 500
    description = error.description if code != 500 else "Something went wrong on our side. It has been logged."
    if _wants_json():
        body = {"code": code, "status": error.name, "message": description}
        messages = (getattr(error, "data", None) or {}).get("messages")
        if messages:  # field-by-field reasons from the API's input validation
            body["errors"] = messages
            body["message"] = "The request has invalid fields: see 'errors'."
        return jsonify(body), code
    template = f"errors/{code}.html" if code in (403, 404, 429, 500) else "errors/generic.html"
    return render_template(template, error=error, code=code, description=description), code


def handle_csrf(error: CSRFError):  # type: ignore[no-untyped-def]
    error.description = "The form expired or was not sent from this site. Reload the page and try again."
    return render_error(error)


def handle_unexpected(error: Exception):  # type: ignore[no-untyped-def]
    if isinstance(error, HTTPException):
        return render_error(error)
    from sqlalchemy.exc import IntegrityError

    from qms.extensions import db

    if isinstance(error, IntegrityError):  # a concurrent change won a unique or foreign-key race
        from werkzeug.exceptions import Conflict

        from qms.transactions import CONFLICT_MESSAGE

        db.session.rollback()
        return render_error(Conflict(description=CONFLICT_MESSAGE))
    log.exception("unhandled error on %s %s (request %s)", request.method, request.path, g.get("request_id"))
    db.session.rollback()
    return render_error(InternalServerError())


class RecordId(IntegerConverter):
    """`<int:...>` in routes: an id beyond the database's integer range names no record (404, not an overflow)."""

    def __init__(self, map, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = RecordId  # before any blueprint adds its routes
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(Exception, handle_unexpected)
