"""Refusals of the comparison pages: the keys page again with the reason."""
from __future__ import annotations


from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from qms.comparisons.exchange_format import public_key_pem
from qms.comparisons.exchange_models import PartnerKey
from qms.extensions import db

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
