"""Refusals of the comparison pages and API: answered by the one handler, never caught by a view."""
from __future__ import annotations

import ast
import importlib
import inspect

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from qms.comparisons.exchange_format import public_key_pem
from qms.comparisons.exchange_models import PartnerKey
from qms.errors import Refused
from qms.extensions import db

VIEW_MODULES = ["qms.comparisons.views", "qms.comparisons.exchange_views", "qms.api.comparisons",
                "qms.api.comparisons_exchange"]


def _caught(handler: ast.ExceptHandler, namespace: dict[str, object]) -> list[type[BaseException]]:
    if handler.type is None:
        return [BaseException]
    value = eval(compile(ast.Expression(handler.type), "<except>", "eval"), dict(namespace))  # noqa: S307
    return list(value) if isinstance(value, tuple) else [value]


@pytest.mark.parametrize("name", VIEW_MODULES)
def test_no_view_or_api_function_catches_a_refusal(name: str) -> None:
    module = importlib.import_module(name)
    for handler in (node for node in ast.walk(ast.parse(inspect.getsource(module)))
                    if isinstance(node, ast.ExceptHandler)):
        for caught in _caught(handler, vars(module)):
            assert not issubclass(Refused, caught) and not issubclass(caught, Refused), (
                f"{name} line {handler.lineno} catches {caught.__name__}")


def test_revoking_a_revoked_key_shows_the_keys_page_again_with_the_reason(bench, login_as) -> None:
    client = login_as(bench.qm)
    stranger = Ed25519PrivateKey.generate().public_key()
    added = client.post("/comparisons/exchange/keys", data={"key-name": "Partner lab",
                                                            "key-public_key": public_key_pem(stranger)})
    assert added.status_code == 302
    key = db.session.query(PartnerKey).one()
    assert client.post("/comparisons/exchange/keys/revoke", data={"revoke-key_id": str(key.id)}).status_code == 302
    again = client.post("/comparisons/exchange/keys/revoke", data={"revoke-key_id": str(key.id)})
    page = again.get_data(as_text=True)
    assert again.status_code == 409 and "already revoked" in page and "Trusted partners" in page
    unknown = client.post("/comparisons/exchange/keys/revoke", data={"revoke-key_id": str(key.id + 1000)})
    assert unknown.status_code == 404


def test_a_refused_key_keeps_what_was_typed(bench, login_as) -> None:
    response = login_as(bench.qm).post("/comparisons/exchange/keys", data={"key-name": "TYPED-PARTNER-NAME",
                                                                         "key-public_key": "not a key"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Not a public key" in page and "TYPED-PARTNER-NAME" in page
    assert db.session.query(PartnerKey).count() == 0
