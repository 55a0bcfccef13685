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
