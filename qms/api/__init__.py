"""The REST API at /api/v1 with its OpenAPI document, generated from the code.

Every domain adds a flask-smorest blueprint in this package and lists it in `BLUEPRINTS`.
Callers authenticate with a personal API token (`Authorization: Bearer qms_...`) or, from the
browser, with their session (then unsafe methods need the CSRF token).
"""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from qms.api import accounts, audits, comparisons, comparisons_exchange, documents, evidence, trail
from qms.auth.permissions import public
from qms.extensions import csrf

BLUEPRINTS = (accounts.blp, documents.blp, evidence.blp, audits.blp, comparisons.blp, comparisons_exchange.blp,
              trail.blp)


class _Api(Api):
    def _register_error_handlers(self) -> None:
        """Errors are rendered by qms.errors for the whole app (JSON under /api/)."""


api = _Api()


def init_app(app: Flask) -> None:
    app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", None)
    api.init_app(app, spec_kwargs={
        "info": {"description": "CSI-QMS: quality management, custody and ballistic intelligence."},
        "components": {"securitySchemes": {
            "bearerToken": {"type": "http", "scheme": "bearer", "description": "A personal API token."},
            "session": {"type": "apiKey", "in": "cookie", "name": "session"},
        }},
        "security": [{"bearerToken": []}, {"session": []}],
    })
    for blueprint in BLUEPRINTS:
        csrf.exempt(blueprint)  # the guard applies CSRF to session callers itself
        api.register_blueprint(blueprint, url_prefix=f"/api/v1{blueprint.url_prefix or ''}")
    _declare_openapi_public(app)


def _declare_openapi_public(app: Flask) -> None:
    """The OpenAPI document describes no records: anyone signed in or not may read it."""
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.startswith("api-docs."):
            app.view_functions[endpoint] = public(_plain_function(view))


def _plain_function(view):  # type: ignore[no-untyped-def]
    """flask-smorest serves its document from a bound method, which takes no attributes."""
    def serve(*args, **kwargs):  # type: ignore[no-untyped-def]
        return view(*args, **kwargs)

    return serve
