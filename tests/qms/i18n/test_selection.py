"""Which language and time zone a page is answered in: the person's, the unit's, the browser's, English."""
from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from qms.auth.models import Role, Unit, User
from qms.i18n.selection import match_tag
from qms.trail.models import AuditEvent


@pytest.fixture()
def app_config(app_config):  # type: ignore[no-untyped-def]
    return {**app_config, "PSEUDO_LOCALE": True}


@pytest.mark.parametrize(("tag", "expected"), [
    ("mk-MK", "mk"), ("mk", "mk"), ("sq-AL", "sq"), ("sq-MK", "sq"), ("sr", "sr"), ("sr-RS", "sr"),
    ("sr-Cyrl-RS", "sr"), ("sr-Latn", "sr_Latn"), ("sr-Latn-RS", "sr_Latn"), ("sr-ME", "sr_Latn_ME"),
    ("sr-Latn-ME", "sr_Latn_ME"), ("cnr", "sr_Latn_ME"), ("hr-HR", "hr"), ("bs-BA", "bs"), ("ro-MD", "ro"),
    ("en-US", "en"), ("en-XA", "en_XA"), ("de-DE", None), ("xx-nonsense", None),
])
def test_browser_language_tags_find_the_shipped_catalogue(app, tag, expected):
    assert match_tag(tag) == expected


def test_the_pseudo_locale_is_offered_only_in_tests(app_config):
    from qms import create_app

    outside_tests = create_app({**app_config, "TESTING": False})
    assert outside_tests.config["PSEUDO_LOCALE"] is False
    with outside_tests.test_request_context(headers={"Accept-Language": "en-XA"}):
        assert match_tag("en-XA") is None


def _lang(response) -> str:  # type: ignore[no-untyped-def]
    body = response.get_data(as_text=True)
    return body.split('<html lang="', 1)[1].split('"', 1)[0]


def test_anonymous_pages_follow_the_browser(client):
    assert _lang(client.get("/login")) == "en"
    assert _lang(client.get("/login", headers={"Accept-Language": "de, sq;q=0.8, en;q=0.5"})) == "sq"
    assert _lang(client.get("/login", headers={"Accept-Language": "sr-Latn-RS"})) == "sr-Latn"


def test_person_beats_unit_beats_browser(db_session, make_unit, make_user, login_as):
    unit = make_unit(code="SK")
    user = make_user(unit, Role.EXAMINER)
    client = login_as(user)
    browser = {"Accept-Language": "hr"}
    assert _lang(client.get("/", headers=browser)) == "hr"
    unit.language = "sq"
    db_session.commit()
    assert _lang(client.get("/", headers=browser)) == "sq"
    user.language = "mk"
    db_session.commit()
    assert _lang(client.get("/", headers=browser)) == "mk"


def test_the_header_switch_sets_the_persons_language_on_the_trail(db_session, make_unit, make_user, login_as):
    unit = make_unit(code="SK")
    user = make_user(unit, Role.EXAMINER)
    client = login_as(user)
    page = client.get("/account").get_data(as_text=True)
    assert 'id="language-switch"' in page and 'lang="mk"' in page
    response = client.post("/account/language", data={"language": "mk", "next": "/account"})
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert _lang(client.get("/account")) == "mk"
    assert db_session.get(User, user.id).language == "mk"
    rows = db_session.scalars(sa.select(AuditEvent).where(
        AuditEvent.entity == "User", AuditEvent.entity_id == str(user.id), AuditEvent.action == "update")).all()
    assert any(row.after.get("language") == "mk" for row in rows)
    # Back to "automatic": the unit's language, else the browser's.
    client.post("/account/language", data={"language": ""})
    assert _lang(client.get("/account", headers={"Accept-Language": "ro"})) == "ro"


def test_an_unknown_language_is_refused_with_its_reason(make_unit, make_user, login_as):
    client = login_as(make_user(make_unit(), Role.VIEWER))
    response = client.post("/account/language", data={"language": "xx"})
    assert response.status_code == 400
    assert "not available" in response.get_data(as_text=True)


def test_the_language_switch_needs_the_csrf_token(app, make_unit, make_user):
    from tests.conftest import login

    user = make_user(make_unit(), Role.VIEWER)
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    assert login(client, user.username, csrf_token=token).status_code == 302
    assert client.post("/account/language", data={"language": "mk"}).status_code == 400
    from flask import g

    g.pop("csrf_token", None)  # Flask-WTF keeps the token in `g`, which the tests' app context shares across requests
    account = client.get("/account").get_data(as_text=True)
    token = account.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = client.post("/account/language", data={"language": "mk", "csrf_token": token})
    assert answer.status_code == 302, answer.get_data(as_text=True)[-3000:]


def test_the_administrator_sets_the_units_language_and_time_zone(db_session, make_unit, make_user, login_as):
    unit = make_unit(code="MD")
    client = login_as(make_user(unit, Role.ADMIN))
    response = client.post("/admin/unit", data={"name": "Moldova", "country": "md", "language": "ro",
                                                "timezone": "Europe/Chisinau"})
    assert response.status_code == 302
    stored = db_session.get(Unit, unit.id)
    assert (stored.language, stored.timezone, stored.country) == ("ro", "Europe/Chisinau", "MD")
    refused = client.post("/admin/unit", data={"name": "Moldova", "language": "ro", "timezone": "Mars/Olympus"})
    assert refused.status_code == 400 and "Mars/Olympus" in refused.get_data(as_text=True)


def test_local_times_are_in_the_units_zone_with_the_offset(app, db_session, make_unit):
    from flask_babel import refresh

    from qms.i18n import local_datetime
    from qms.scoping import set_scope

    winter, summer = datetime(2026, 1, 15, 10, 0), datetime(2026, 7, 15, 10, 0)
    skopje, chisinau = make_unit(code="SKP"), make_unit(code="KIV")
    chisinau.timezone = "Europe/Chisinau"
    db_session.commit()
    with app.test_request_context():
        from flask import g

        g.qms_unit_id = skopje.id
        set_scope((skopje.id,))
        refresh()
        text = str(local_datetime(winter))
        assert "11:00" in text and "(UTC+01:00)" in text and 'datetime="2026-01-15T10:00:00Z"' in text
        assert "12:00" in str(local_datetime(summer)) and "(UTC+02:00)" in str(local_datetime(summer))
    with app.test_request_context(headers={"Accept-Language": "mk"}):
        from flask import g

        g.qms_unit_id = chisinau.id
        set_scope((chisinau.id,))
        refresh()  # as the request's start does (the tests' app context keeps `g` between requests)
        text = str(local_datetime(winter))
        assert "12:00" in text and "(UTC+02:00)" in text and "2026" in text and "AM" not in text  # 24-hour clock


def test_a_date_printed_by_a_template_comes_in_the_readers_format(app):
    """Printed as it is, inside a {% trans %} block, or through _(): never Python's ISO text."""
    from datetime import date

    from babel.dates import format_date
    from flask import render_template_string

    day, moment = date(2026, 3, 9), datetime(2026, 3, 9, 8, 30)
    source = ("<p>{{ day }}|{% trans d=day %}due {{ d }}{% endtrans %}|{{ _('due %(d)s', d=day) }}|{{ moment }}</p>"
              "<input value=\"{{ day.isoformat() }}\">")
    with app.test_request_context(headers={"Accept-Language": "sq"}):
        html = render_template_string(source, day=day, moment=moment)
    shown = format_date(day, "medium", locale="sq")
    assert html.count(f'<time datetime="2026-03-09">{shown}</time>') == 3, html
    assert 'datetime="2026-03-09T08:30:00Z"' in html and "(UTC" in html  # a time: the unit's zone and offset
    assert "2026-03-09<" not in html and 'value="2026-03-09"' in html  # an explicit ISO text stays as written


def test_api_errors_follow_accept_language_not_the_persons_pages(db_session, make_unit, make_user, client):
    from qms.auth import services

    unit = make_unit()
    user = make_user(unit, Role.ADMIN)
    user.language = "mk"
    _token, clear = services.issue_token(user, unit_id=unit.id, role=Role.ADMIN, name="script")
    db_session.commit()
    headers = {"Authorization": f"Bearer {clear}"}
    plain = client.get("/api/v1/units/999999", headers=headers)
    assert plain.status_code == 404 and plain.get_json()["message"] == "No such unit."
    pseudo = client.get("/api/v1/units/999999", headers={**headers, "Accept-Language": "en-XA"})
    assert pseudo.get_json()["message"].startswith("⟦No such unit.")
