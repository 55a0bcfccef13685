"""Garbage posted to every documents route (web and API) answers 4xx with a reason, never 500.

The foundation's tests/qms/test_bad_input.py cannot fill the `sop_id` and `revision_id` URL
parameters yet; this walks the same garbage over this domain's routes with real records.
"""
from __future__ import annotations

import pytest

from qms.auth import services as auth
from qms.auth.models import Role
from tests.qms.documents.conftest import make_effective

GARBAGE = [
    {},
    {"code": "x" * 5000, "title": "<script>alert(1)</script>" * 50, "discipline": "astrology", "owner_id": "abc",
     "review_months": "-5", "applies_to": ["god"], "content_markdown": "\u202e" * 10, "password": "\u202e",
     "otp": "abcdefghijklmnop", "effective_on": "2026-13-45", "meaning": "x" * 500, "comment": "",
     "requirement_ids": "17020:99 ../../etc"},
    {"owner_id": "999999", "review_months": "100000", "effective_on": "1900-01-01", "password": "wrong password",
     "requirement_ids": ["a", 1, None], "applies_to": "csi_officer", "meaning": ""},
]


@pytest.mark.parametrize("role", [Role.QUALITY_MANAGER, Role.EXAMINER], ids=lambda r: r.value)
def test_garbage_posted_to_every_documents_route_is_refused_cleanly(app, staff, draft, login_as, db_session, role):
    user = staff.qm if role == Role.QUALITY_MANAGER else staff.examiner
    make_effective(staff, draft)
    _, clear = auth.issue_token(user, unit_id=staff.unit.id, role=role, name="fuzz")
    db_session.commit()
    params = {"sop_id": draft.sop_id, "revision_id": draft.id}
    client = login_as(user)
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith(("documents.", "api_documents."))]
    assert len(rules) > 20
    for rule in rules:
        url = rule.rule
        for name in rule.arguments:
            url = url.replace(f"<int:{name}>", str(params[name]))
        for method in rule.methods - {"GET", "HEAD", "OPTIONS"}:
            for payload in GARBAGE:
                if rule.rule.startswith("/api/"):
                    response = client.open(url, method=method, json=payload,
                                           headers={"Authorization": f"Bearer {clear}"})
                else:
                    response = client.open(url, method=method, data=payload)
                where = f"{method} {rule.rule} with {str(payload)[:60]}"
                assert response.status_code < 500, where
                if response.status_code >= 400:
                    assert response.get_data(as_text=True).strip(), f"{where}: no reason given"


def test_garbage_query_strings_are_refused_cleanly(staff, draft, login_as):
    client = login_as(staff.qm)
    for query in ("status=%00", "discipline=x", "q=" + "x" * 3000, "from=abc&to=-1", "mode=<script>"):
        assert client.get(f"/documents?{query}").status_code in (200, 400), query
        assert client.get(f"/documents/{draft.sop_id}/diff?{query}").status_code in (200, 400), query
