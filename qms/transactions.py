"""One unit of work per request: services add and flush, the request commits once at its end.

Errors end the unit of work in their handler (`qms.errors`): a refusal rolls back, or commits
when it keeps its work (a failed password attempt is the throttle's memory); so by the time a
response leaves, what is left in the session is the work of a request that succeeded.
"""
from __future__ import annotations

import logging

from flask import Flask, Response, current_app, request
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import Conflict

from qms.errors import conflict_message, render_error
from qms.extensions import db

log = logging.getLogger(__name__)


def commit(response: Response) -> Response:
    try:
        db.session.commit()
    except (IntegrityError, OperationalError) as error:
        db.session.rollback()
        log.warning("commit refused on %s %s: %s", request.method, request.path, error.__class__.__name__)
        return current_app.make_response(render_error(Conflict(description=conflict_message())))
    return response


def init_app(app: Flask) -> None:
    app.after_request(commit)
