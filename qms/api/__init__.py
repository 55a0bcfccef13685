"""The REST API at /api/v1 with its OpenAPI document, generated from the code.

Every domain adds a flask-smorest blueprint in this package and lists it in `BLUEPRINTS`.
Callers authenticate with a personal API token (`Authorization: Bearer qms_...`) or, from the
browser, with their session (then unsafe methods need the CSRF token).
"""
from __future__ import annotations

import threading
from http import HTTPStatus
from typing import Any

from apispec import APISpec, BasePlugin
from flask import Flask
from flask_smorest import Api

from qms.api import (accounts, audits, comparisons, comparisons_exchange, complaints, documents, equipment, evidence,
                     firearms, firearms_trace, nonconformities, people, proficiency, risks, trail)
from qms.api.schemas import NO_NUL, ChangesSchema
from qms.auth.permissions import public
from qms.extensions import csrf

BLUEPRINTS = (accounts.blp, documents.blp, evidence.blp, audits.blp, comparisons.blp, comparisons_exchange.blp,
              people.blp, equipment.blp, nonconformities.blp, proficiency.blp, complaints.blp, risks.blp, firearms.blp,
              firearms_trace.blp, trail.blp)


class _Api(Api):
    """flask-smorest's Api, with the blueprints' pages of the OpenAPI document written when the document
    is first read rather than at start-up: describing 300 operations is about 40 % of an application's
    start, and most application instances (a CLI command, a worker, each test's) never serve it."""

    # No catch-all "default" answer: every operation lists the statuses it really gives (below).
    DEFAULT_ERROR_RESPONSE_NAME = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._undocumented: list[tuple[Any, Flask, str, Any]] = []
        self._documenting = threading.RLock()
        super().__init__(*args, **kwargs)

    @property
    def spec(self) -> APISpec:
        with self._documenting:
            while self._undocumented:
                blp, app, name, parameters = self._undocumented.pop(0)
                blp.register_views_in_doc(self, app, self._spec, name=name, parameters=parameters)
                self._spec.tag({"name": name, "description": blp.description})
        return self._spec

    @spec.setter
    def spec(self, value: APISpec) -> None:  # flask-smorest's init_app: a new application's document
        self._spec, self._undocumented = value, []

    def register_blueprint(self, blp: Any, *, parameters: Any = None, **options: Any) -> None:
        """The blueprint's routes now; its operations in the document when the document is read."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, self._app, name, parameters))

    def _register_error_handlers(self) -> None:
        """Errors are rendered by qms.errors for the whole app (JSON under /api/)."""


UPLOAD_TYPES = ("multipart/form-data", "application/zip")


def error_statuses(path: str, method: str, operation: dict[str, Any], *, signs: bool) -> list[HTTPStatus]:
    """The refusals an operation can answer, each with the one problem body of `qms.errors`.

    Every operation needs a caller (401) whose role and unit allow it (403). A record named in the
    path, or in a body, may be unknown (404). A write may be malformed or refused (400: also a
    session caller's missing CSRF token) or conflict with the record's state (409), and its body
    may be too large (413) or have invalid fields (422, as may query arguments). A body carrying a
    password signs with it: a wrong one counts towards the throttle (429).
    """
    write = method.lower() != "get"
    body = operation.get("requestBody") or {}
    content = body.get("content", {}) if isinstance(body, dict) else {}
    queries = [p for p in operation.get("parameters", []) if isinstance(p, dict) and p.get("in") == "query"]
    statuses = [HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN]
    if write or "{" in path or "<" in path:
        statuses.append(HTTPStatus.NOT_FOUND)
    if write:
        statuses += [HTTPStatus.BAD_REQUEST, HTTPStatus.CONFLICT]
    if body:
        statuses.append(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    if body or queries:
        statuses.append(HTTPStatus.UNPROCESSABLE_ENTITY)
    if "application/zip" in content:
        statuses.append(HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
    if signs:
        statuses.append(HTTPStatus.TOO_MANY_REQUESTS)
    return statuses


def without_nul(prop: dict[str, Any]) -> dict[str, Any]:
    """A text property documented as holding no NUL character, which `qms.security` refuses in any input."""
    if prop.get("type") == "string" and not {"pattern", "format", "enum"} & prop.keys():
        return {**prop, "pattern": NO_NUL}
    if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
        return {**prop, "items": without_nul(prop["items"])}
    return prop


class DocumentedAnswers(BasePlugin):
    """Adds to every operation of the document the refusals it can answer (see `error_statuses`)."""

    def init_spec(self, spec: Any) -> None:
        self.spec = spec

    def _signs(self, operation: dict[str, Any]) -> bool:
        """Whether the request body carries a password (its schema is a reference to a component by now)."""
        body = operation.get("requestBody")
        for media in (body.get("content", {}) if isinstance(body, dict) else {}).values():
            schema = media.get("schema") if isinstance(media, dict) else None
            if isinstance(schema, dict) and "$ref" in schema:
                schema = self.spec.components.schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
            if isinstance(schema, dict) and "password" in schema.get("properties", {}):
                return True
        return False

    def schema_helper(self, name: str, definition: dict, **kwargs: Any) -> dict | None:
        schema = kwargs.get("schema")
        kind = schema if isinstance(schema, type) else type(schema)
        extra: dict[str, Any] = {"minProperties": 1} if issubclass(kind, ChangesSchema) else {}
        if "properties" in definition:
            extra["properties"] = {name: without_nul(prop) for name, prop in definition["properties"].items()}
        return extra

    def operation_helper(self, path: str | None = None, operations: dict | None = None, **kwargs: Any) -> None:
        for method, operation in (operations or {}).items():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if isinstance(parameter, dict) and isinstance(parameter.get("schema"), dict):
                    parameter["schema"] = without_nul(parameter["schema"])
            responses = operation.setdefault("responses", {})
            for status in error_statuses(path or "", method, operation, signs=self._signs(operation)):
                if status.value not in responses and str(status.value) not in responses:
                    responses[str(status.value)] = status.name  # flask-smorest's error response of that status


api = _Api()


def init_app(app: Flask) -> None:
    app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", None)
    api.init_app(app, spec_kwargs={
        "extra_plugins": [DocumentedAnswers()],
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
