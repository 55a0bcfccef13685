"""The one refusal mechanism: services raise, the handler ends the unit of work and answers."""
from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask, get_flashed_messages, render_template_string

from qms.auth.models import Unit
from qms.auth.permissions import public
from qms.errors import AuthenticationFailed, Refused, StateConflict, page_again


def _add_unit(code: str) -> None:
    from qms.extensions import db

    db.session.add(Unit(code=code, name=f"Unit {code}"))
    db.session.flush()


@pytest.fixture()
def refusing_app(app: Flask) -> Flask:
    """Routes that do some work and then refuse, as services do."""

    @public
    def page():  # type: ignore[no-untyped-def]
        messages = " | ".join(get_flashed_messages())
        return render_template_string("page: {{ m }}", m=messages)

    @public
    @page_again("test_page")
    def act():  # type: ignore[no-untyped-def]
        _add_unit("ROLLED")
        raise StateConflict("Already decided: reload the page.")

    @public
    def sign():  # type: ignore[no-untyped-def]
        _add_unit("KEPT")  # stands for the failed attempt the throttle must remember
        raise AuthenticationFailed("Wrong password: nothing was signed.")

    @public
    def api_act():  # type: ignore[no-untyped-def]
        _add_unit("APIROLL")
        raise StateConflict("Already decided.")

    @public
    def refuse_on_get():  # type: ignore[no-untyped-def]
        raise StateConflict("Nothing to show for this filter.")

    app.add_url_rule("/test/page", "test_page", page)
    app.add_url_rule("/test/act", "test_act", act, methods=["POST"])
    app.add_url_rule("/test/page", "test_sign", sign, methods=["POST"])
    app.add_url_rule("/api/v1/test/act", "test_api_act", api_act, methods=["POST"])
    app.add_url_rule("/test/refuse", "test_refuse", refuse_on_get)
    return app


def _units(codes: str) -> set[str]:
    from qms.extensions import db

    db.session.rollback()
    return set(db.session.scalars(sa.select(Unit.code).where(Unit.code.in_(codes.split()))))


def test_a_refused_action_shows_the_declared_page_again_with_the_reason_and_keeps_nothing(refusing_app):
    response = refusing_app.test_client().post("/test/act")
    assert response.status_code == 409
    assert response.get_data(as_text=True) == "page: Already decided: reload the page."
    assert _units("ROLLED") == set()


def test_a_refusal_that_keeps_its_work_commits_it_and_shows_the_same_url_again(refusing_app):
    response = refusing_app.test_client().post("/test/page")
    assert response.status_code == 403
    assert "Wrong password" in response.get_data(as_text=True)
    assert _units("KEPT") == {"KEPT"}


def test_the_api_answers_a_refusal_with_a_problem_body(refusing_app):
    response = refusing_app.test_client().post("/api/v1/test/act")
    assert response.status_code == 409
    assert response.json == {"code": 409, "status": "Conflict", "message": "Already decided."}
    assert _units("APIROLL") == set()


def test_a_refusal_with_no_page_to_show_again_answers_the_error_page(refusing_app):
    response = refusing_app.test_client().get("/test/refuse")
    assert response.status_code == 409
    body = response.get_data(as_text=True)
    assert "Nothing to show for this filter." in body and "Conflict" in body


def test_a_method_not_allowed_names_the_allowed_methods(refusing_app):
    response = refusing_app.test_client().delete("/test/page")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


QMS = Path(__file__).resolve().parents[2] / "qms"
VIEW_MODULES = sorted(".".join(path.relative_to(QMS.parent).with_suffix("").parts)
                      for path in [*QMS.glob("*/views.py"), *QMS.glob("*/*_views.py"), *QMS.glob("api/*.py")])


def _caught(handler: ast.ExceptHandler, namespace: dict[str, object]) -> list[type[BaseException]]:
    if handler.type is None:
        return [BaseException]
    value = eval(compile(ast.Expression(handler.type), "<except>", "eval"), dict(namespace))  # noqa: S307
    return list(value) if isinstance(value, tuple) else [value]


def test_every_view_and_api_module_is_scanned() -> None:
    assert {"qms.evidence.views", "qms.api.audits", "qms.comparisons.exchange_views"} <= set(VIEW_MODULES)
    assert len(VIEW_MODULES) >= 16


@pytest.mark.parametrize("name", VIEW_MODULES)
def test_no_view_or_api_function_catches_a_refusal(name: str) -> None:
    """Refusals reach the one handler: no `except` in a view or API module names the family (or a base of it)."""
    module = importlib.import_module(name)
    for handler in (node for node in ast.walk(ast.parse(inspect.getsource(module)))
                    if isinstance(node, ast.ExceptHandler)):
        for caught in _caught(handler, vars(module)):
            assert not issubclass(Refused, caught) and not issubclass(caught, Refused), (
                f"{name} line {handler.lineno} catches {caught.__name__}")
