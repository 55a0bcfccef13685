"""Statistics: the early-warning rule on constructed monthly series; the pooled CSV against direct queries."""
from __future__ import annotations

import csv
import re
import io
from collections import Counter
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from qms.auth.models import Role, Unit
from qms.firearms import statistics
from qms.firearms.models import Firearm, FirearmEvent
from qms.firearms.serials import calibre_key, text_key

# (monthly series, oldest first and this month last; whether this month warns)
SERIES = [
    ([2, 3, 2, 1, 2, 3, 2, 2, 1, 3, 2, 2, 9], True),  # a quiet category jumps
    ([2, 3, 2, 1, 2, 3, 2, 2, 1, 3, 2, 2, 5], False),  # within three spreads of the median
    ([10, 12, 9, 11, 8, 13, 10, 12, 9, 11, 10, 12, 14], False),  # a busy category's ordinary month
    ([10, 12, 9, 11, 8, 13, 10, 12, 9, 11, 10, 12, 25], True),
    ([0] * 12 + [3], False),  # a first few seizures after a quiet year: the spread is at least one firearm
    ([0] * 12 + [4], True),
    ([2, 2, 30, 2, 2, 2, 2, 2, 2, 2, 2, 2, 9], True),  # one exceptional month in the history does not mask a rise
    ([2, 2, 2, 2, 2, 9], False),  # five months of history: too short to judge
    ([2, 2, 2, 2, 2, 2, 9], True),  # six months are enough
    ([9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 0], False),  # a fall is not an early warning
    ([50] * 6 + [2] * 12 + [9], True),  # only the twelve months before count
]


@pytest.mark.parametrize(("series", "warns"), SERIES, ids=[",".join(map(str, s)) for s, _ in SERIES])
def test_the_early_warning_rule_on_constructed_series(series: list[int], warns: bool) -> None:
    rise = statistics.unusual(series)
    assert (rise is not None) is warns
    if rise is not None:
        assert rise.count == series[-1] and rise.count > rise.threshold == rise.median + 3 * rise.spread


def test_the_rule_reads_the_median_and_the_scaled_median_absolute_deviation() -> None:
    history = [3, 7, 5, 5, 3, 7, 5, 5, 3, 7, 3, 7]  # median 5; deviations 0 (four times) and 2 (eight times)
    rise = statistics.unusual([*history, 14])
    assert rise is not None and rise.median == 5 and rise.spread == pytest.approx(2 * 1.4826)
    assert statistics.unusual([*history, 13]) is None  # 13 < 5 + 3 * 2.9652


def _csv_counter(text: str) -> tuple[list[str], Counter[tuple[str, ...]]]:
    rows = list(csv.reader(io.StringIO(text)))
    counted: Counter[tuple[str, ...]] = Counter()
    for row in rows[1:]:
        counted[tuple(row[:-1])] += int(row[-1])
    return rows[0], counted


def _direct(db_session, unit: Unit) -> Counter[tuple[str, ...]]:
    """The same counts straight from the tables: every event with its firearm, counted here."""
    stmt = sa.select(FirearmEvent.occurred_on, FirearmEvent.kind, Firearm.firearm_type, Firearm.make,
                     Firearm.calibre, Firearm.printed, Firearm.conversion, Firearm.home_made, Firearm.modified
                     ).join(Firearm, Firearm.id == FirearmEvent.firearm_id).where(FirearmEvent.unit_id == unit.id)
    counted: Counter[tuple[str, ...]] = Counter()
    for on, kind, kind_of, make, calibre, printed, conversion, home_made, modified in db_session.execute(stmt):
        counted[(unit.code, on.strftime("%Y-%m"), kind, kind_of, text_key(make), calibre_key(calibre), printed,
                 conversion, str(int(home_made)), str(int(modified)))] += 1
    return counted


def test_the_demo_csv_equals_direct_queries_of_the_database(app, db_session) -> None:
    """Acceptance 3 of issue 18."""
    from qms.demo import seed_demo

    seed_demo()
    unit = db_session.scalar(sa.select(Unit).where(Unit.code == "FC-MOI"))
    text = statistics.csv_export(unit.id)
    header, counted = _csv_counter(text)
    assert tuple(header) == statistics.CSV_COLUMNS
    direct = _direct(db_session, unit)
    assert counted == direct and sum(direct.values()) == db_session.scalar(
        sa.select(sa.func.count()).select_from(FirearmEvent).where(FirearmEvent.unit_id == unit.id)) == 5
    by_event: Counter[str] = Counter()
    for key, n in counted.items():
        by_event[key[2]] += n
    assert by_event == {"seized": 4, "reported_stolen": 1}
    printed = sum(n for key, n in counted.items() if key[6])
    converted = sum(n for key, n in counted.items() if key[7] == "alarm_blank")
    assert (printed, converted) == (1, 1)


def test_the_statistics_page_and_csv_download(unit, examiner, login_as, record, make_user) -> None:
    record("A123458", event="reported_stolen", days_ago=40)
    record("", model="FGC-9", printed="partly", event="seized", days_ago=3)
    viewer = make_user(unit, Role.VIEWER, username="view1")
    client = login_as(viewer)
    page = client.get("/firearms/statistics")
    assert page.status_code == 200 and "Early warning" in page.get_data(as_text=True)
    download = client.get("/firearms/statistics.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert download.get_data(as_text=True) == statistics.csv_export(unit.id)
    month = (date.today() - timedelta(days=3)).strftime("%Y-%m")
    assert f"FIRE,{month},seized,pistol,ZASTAVA,762X25,partly,,0,0,1" in download.get_data(as_text=True)


def test_a_warning_shows_when_this_months_recoveries_leave_the_usual_range(unit, examiner, record, login_as) -> None:
    today = date.today()
    for months_ago in range(1, 9):  # one converted firearm seized in each of the eight months before
        record("", model=f"C{months_ago}", conversion="gas", event="seized", days_ago=31 * months_ago + 2)
    for n in range(5):
        record("", model=f"N{n}", conversion="alarm_blank", event="seized", days_ago=0)
    figures = statistics.figures(unit.id, on=today)
    assert set(figures.warnings) == {"converted", "all"}
    assert figures.warnings["converted"].count == 5
    page = login_as(examiner).get("/firearms/statistics").get_data(as_text=True)
    assert "Converted: 5 this month, usually 1 (warning above 4.0)." in page


def _chart(page: str, chart_id: str) -> str | None:
    """The SVG behind a chart image of the page, or None when the page has no such chart."""
    import base64

    found = re.search(rf'<img src="data:image/svg\+xml;base64,([^"]+)" id="{chart_id}"', page)
    return base64.b64decode(found.group(1)).decode("utf-8") if found else None


def test_the_statistics_page_draws_its_charts_once_there_is_something_to_count(unit, examiner, login_as,
                                                                              record) -> None:
    client = login_as(examiner)
    empty = client.get("/firearms/statistics").get_data(as_text=True)
    assert _chart(empty, "chart-by-month") is None and _chart(empty, "chart-by-category") is None
    record("A123458", event="reported_stolen", days_ago=40)
    record("", model="FGC-9", printed="partly", event="seized", days_ago=3)
    page = client.get("/firearms/statistics").get_data(as_text=True)
    by_month, by_category = _chart(page, "chart-by-month"), _chart(page, "chart-by-category")
    assert by_month is not None and by_month.lstrip().startswith(("<?xml", "<svg"))
    assert by_category is not None and "<svg" in by_category
