"""The first translated slice: the layout, navigation, login page and dashboard in Macedonian and Albanian."""
from __future__ import annotations

import pytest

from qms.auth.models import Role


@pytest.mark.parametrize(("code", "expected"), [
    ("mk", ["Контролна табла", "Одјава", "Мои последни промени", "Корисничко име"]),
    ("sq", ["Paneli", "Dil", "Ndryshimet e mia të fundit", "Emri i përdoruesit"]),
])
def test_the_dashboard_and_login_page_in_the_persons_language(db_session, make_unit, make_user, client, login_as,
                                                              code, expected):
    login_page = client.get("/login", headers={"Accept-Language": code}).get_data(as_text=True)
    assert expected[3] in login_page
    user = make_user(make_unit(), Role.QUALITY_MANAGER)
    user.language = code
    db_session.commit()
    dashboard = login_as(user).get("/").get_data(as_text=True)
    assert f'<html lang="{code}"' in dashboard
    for text in expected[:3]:
        assert text in dashboard
    assert "Dashboard" not in dashboard  # the heading and the navigation are translated


@pytest.mark.parametrize("code", ["mk", "sq"])
def test_the_gap_analysis_shows_the_requirements_in_the_readers_language(db_session, make_unit, make_user, login_as,
                                                                         code):
    from audits import load_all
    from audits.localized import load_all_in

    english = load_all()["iso17020-2012"].get("17020:4.1.1")
    translated = load_all_in(code)["iso17020-2012"].get("17020:4.1.1")
    assert translated.title != english.title and translated.topic != english.topic
    user = make_user(make_unit(), Role.QUALITY_MANAGER)
    user.language = code
    db_session.commit()
    page = login_as(user).get("/audits/gap").get_data(as_text=True)
    assert translated.title in page and translated.topic in page
    assert english.title not in page
