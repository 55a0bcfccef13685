"""One commit per request: services add and flush, the request commits once at its end.

A response produced by an error handler rolls back instead, so a request that failed half
way leaves nothing behind. A refused login still commits: its attempt is the throttle's memory.
"""
from __future__ import annotations

import logging

from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import IntegrityError, OperationalError

from qms.extensions import db

log = logging.getLogger(__name__)

CONFLICT_MESSAGE = "Someone else changed this record at the same time. Reload the page and try again."


def mark_failed() -> None:
    g.qms_failed = True


def commit_or_rollback(response: Response) -> Response:
    if g.get("qms_failed"):
        db.session.rollback()
        return response
    try:
        db.session.commit()
    except (IntegrityError, OperationalError) as error:
        db.session.rollback()
        log.warning("commit refused on %s %s: %s", request.method, request.path, error.__class__.__name__)
        from werkzeug.exceptions import Conflict

        from qms.errors import render_error

        conflict = Conflict(description=CONFLICT_MESSAGE)
        body, status = render_error(conflict)  # JSON for the API, the error page for browsers
        db.session.rollback()
        return current_app.make_response((body, status))
    return response


def init_app(app: Flask) -> None:
    app.after_request(commit_or_rollback)
