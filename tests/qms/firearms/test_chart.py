"""The link chart through its pages: content from records made through the services, unit isolation,
filters, refusals, the exports (GraphML read back with networkx, the i2 CSV layout, the PDF) and access.

The world: three cases with a casing each (the comparisons bench), a pistol in case 2 registered in the
firearm register with its custody item and a test fire taken from it; casings 0 and 1 linked by a
confirmed ballistic link, and the test fire linked to casing 0; a stolen report 30 days ago and a
seizure today with a partly ground-off serial (an open register lead).
"""
from __future__ import annotations

import csv
import io
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta

import networkx as nx
import pytest

from qms.auth.models import Role
from qms.comparisons import services as comparisons
from qms.comparisons.models import BallisticEntry, CaseLink, Decision
from qms.evidence import custody
from qms.extensions import db
from qms.firearms import leads
from qms.firearms import services as firearms
from qms.firearms.chart_export import ENTITY_COLUMNS, LINK_COLUMNS
from tests.conftest import PASSWORD
from tests.qms.comparisons.access_records import build as unit_b_ballistics
from tests.qms.comparisons import conftest as comparison_fixtures
from tests.qms.comparisons.conftest import Bench
from tests.qms.firearms.access_records import build as unit_b_register

MARKER = "UNIT-B-MARKER"
# The comparison tests' fixtures (a unit with examiners, cases, casings, a scanner; synthetic scans), shared here.
scene_bench, bench, scans = comparison_fixtures.scene_bench, comparison_fixtures.bench, comparison_fixtures.scans


@pytest.fixture()
def app_config(app_config):  # type: ignore[no-untyped-def]
    return {**app_config, "SEARCH_PROCESSES": 0}


@pytest.fixture()
def unit(bench):  # type: ignore[no-untyped-def]
    return bench.unit  # the firearms `record` factory works in the bench's unit


@pytest.fixture()
def examiner(bench):  # type: ignore[no-untyped-def]
    return bench.examiner


@dataclass
class World:
    bench: Bench
    ids: dict[str, str]  # name -> node id


def _entry(bench: Bench, item, scan: bytes, holder) -> BallisticEntry:  # type: ignore[no-untyped-def]
    return comparisons.add_entry(item, actor=holder, data=scan, filename="scan.x3p", device_id=bench.device.id,
                                 search=False)


def _confirmed_link(bench: Bench, a: BallisticEntry, b: BallisticEntry) -> CaseLink:
    """Both examiners' decisions and the link, as `comparisons.services` writes them after the blind verification."""
    low, high = sorted((a, b), key=lambda e: e.id)
    decisions = [Decision(unit_id=bench.unit.id, entry_low_id=low.id, entry_high_id=high.id, role=role,
                          conclusion="identification_lead", examiner_id=who.id)
                 for role, who in (("first", bench.examiner), ("verification", bench.verifier))]
    db.session.add_all(decisions)
    db.session.flush()
    link = CaseLink(unit_id=bench.unit.id, entry_low_id=low.id, entry_high_id=high.id,
                    case_low_id=low.case.id if low.case else None, case_high_id=high.case.id if high.case else None,
                    first_decision_id=decisions[0].id, verification_id=decisions[1].id)
    db.session.add(link)
    db.session.flush()
    return link


@pytest.fixture()
def world(bench, scans, record, db_session) -> World:  # type: ignore[no-untyped-def]
    pistol = custody.register_item(bench.cases[2], actor=bench.csi, exhibit_number="2", item_type="firearm",
                                   description="Pistol CZ 99", make="Zastava", model="CZ 99", serial_number="Z-991")
    custody.transfer_custody(pistol, actor=bench.csi, receiver_username=bench.examiner.username,
                             receiver_password=PASSWORD)
    test_fire = custody.sample(pistol, actor=bench.examiner, exhibit_number="2-TF1", item_type="cartridge_case",
                               description="Test fire of exhibit 2")
    entries = [_entry(bench, item, scans[name], bench.examiner)
               for item, name in ((bench.casings[0], "F0000-S00"), (bench.casings[1], "F0000-S01"),
                                  (test_fire, "F0001-S00"))]
    links = [_confirmed_link(bench, entries[0], entries[1]), _confirmed_link(bench, entries[2], entries[0])]
    db_session.commit()
    registered = record("Z-991", event="seized", make="Zastava", model="CZ 99", calibre="9x19", item_id=pistol.id)
    stolen = record("A-123458", event="reported_stolen", days_ago=30)
    seized = record("A12?4S8", event="seized")
    [lead] = [row.lead for row in leads.leads_of(stolen)]
    ids = {"pistol": f"item:{pistol.id}", "test_fire": f"item:{test_fire.id}", "registered": f"firearm:{registered.id}",
           "stolen": f"firearm:{stolen.id}", "seized": f"firearm:{seized.id}", "lead": f"register_lead:{lead.id}",
           "link0": f"ballistic:{links[0].id}", "link1": f"ballistic:{links[1].id}"}
    ids |= {f"case{n}": f"case:{case.id}" for n, case in enumerate(bench.cases)}
    ids |= {f"casing{n}": f"item:{item.id}" for n, item in enumerate(bench.casings)}
    return World(bench, ids)


def _json(client, **args):  # type: ignore[no-untyped-def]
    answer = client.get("/firearms/chart.json", query_string=args, headers={"Accept": "application/json"})
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    return answer.get_json()


def _edges(body) -> set[tuple[str, frozenset[str]]]:  # type: ignore[no-untyped-def]
    return {(e["data"]["type"], frozenset((e["data"]["source"], e["data"]["target"]))) for e in body["edges"]}


def _nodes(body) -> set[str]:  # type: ignore[no-untyped-def]
    return {n["data"]["id"] for n in body["nodes"]}


# --- content --------------------------------------------------------------------------------------------

def test_the_chart_joins_cases_items_firearms_ballistic_links_and_register_leads(world, login_as) -> None:
    i = world.ids
    body = _json(login_as(world.bench.examiner))
    assert _nodes(body) == {i[k] for k in ("case0", "case1", "case2", "casing0", "casing1", "casing2", "pistol",
                                           "test_fire", "registered", "stolen", "seized")}
    assert _edges(body) == {
        *(("contains", frozenset((i[f"case{n}"], i[f"casing{n}"]))) for n in range(3)),
        ("contains", frozenset((i["case2"], i["pistol"]))), ("contains", frozenset((i["case2"], i["test_fire"]))),
        ("custody", frozenset((i["registered"], i["pistol"]))),
        ("test_fire", frozenset((i["test_fire"], i["pistol"]))),
        ("ballistic", frozenset((i["casing0"], i["casing1"]))),
        ("ballistic", frozenset((i["test_fire"], i["casing0"]))),
        ("register_lead", frozenset((i["stolen"], i["seized"]))),
    }
    nodes = {n["data"]["id"]: n for n in body["nodes"]}
    assert nodes[i["casing0"]]["data"]["entries"] == 1  # the scan is folded into its item, not a node of its own
    firearm = nodes[i["registered"]]["data"]
    assert (firearm["type"], firearm["label"], firearm["url"], firearm["status"]) == (
        "firearm", "Zastava CZ 99 Z-991", f"/firearms/{i['registered'].split(':')[1]}", "seized")
    assert nodes[i["case0"]]["data"]["label"] == world.bench.cases[0].case_number
    [lead] = [e["data"] for e in body["edges"] if e["data"]["type"] == "register_lead"]
    assert (lead["id"], lead["state"]) == (i["lead"], "open")
    positions = {(n["position"]["x"], n["position"]["y"]) for n in body["nodes"]}
    assert len(positions) == len(body["nodes"])  # every record drawn, none on top of another
    assert body["counts"] == {"nodes": {"case": 3, "item": 5, "firearm": 3},
                              "links": {"contains": 5, "custody": 1, "test_fire": 1, "ballistic": 2,
                                        "register_lead": 1}}


def test_a_decided_lead_shows_its_state(world, login_as) -> None:
    from qms.firearms.models import FirearmLead

    lead = db.session.get(FirearmLead, int(world.ids["lead"].split(":")[1]))
    leads.decide(lead, world.bench.examiner, outcome="dismissed", note="Different proof marks", password=PASSWORD)
    db.session.commit()
    client = login_as(world.bench.examiner)
    [data] = [e["data"] for e in _json(client)["edges"] if e["data"]["type"] == "register_lead"]
    assert data["state"] == "dismissed"
    assert not [e for e in _json(client, filtered=1, type=["firearm"], link=["register_lead"], lead=["open"])["edges"]]


def test_another_units_records_never_appear(world, login_as, make_unit, make_user, db_session) -> None:
    unit_b = make_unit(code="UNIT-B", name=MARKER)
    user_b = make_user(unit_b, Role.QUALITY_MANAGER, username="markerb")
    unit_b_register(unit_b, user_b)
    unit_b_ballistics(unit_b, user_b)
    db_session.commit()
    client = login_as(world.bench.examiner)
    body = _json(client)
    assert len(body["nodes"]) == 11 and MARKER not in str(body)
    for path in ("/firearms/chart.graphml", "/firearms/chart-i2.zip"):
        answer = client.get(path)
        text = answer.data if path.endswith(".graphml") else b"".join(
            zipfile.ZipFile(io.BytesIO(answer.data)).read(name) for name in ("entities.csv", "links.csv"))
        assert answer.status_code == 200 and MARKER.encode() not in text
    b_firearm = db.session.scalars(db.select(firearms.Firearm).where(firearms.Firearm.unit_id == unit_b.id)).first()
    answer = client.get("/firearms/chart.json", query_string={"focus": f"firearm:{b_firearm.id}"},
                        headers={"Accept": "application/json"})
    assert answer.status_code == 404 and MARKER not in answer.get_data(as_text=True)


# --- filters --------------------------------------------------------------------------------------------

def test_a_period_keeps_the_links_dated_in_it_and_the_records_active_in_it(world, login_as) -> None:
    client = login_as(world.bench.examiner)
    month_ago = _json(client, **{"from": (date.today() - timedelta(days=31)).isoformat(),
                                 "to": (date.today() - timedelta(days=29)).isoformat()})
    assert _nodes(month_ago) == {world.ids["stolen"]} and month_ago["edges"] == []  # the report, not the seizure
    opened = _json(client, **{"from": "2026-11-01", "to": "2026-11-01"})  # the bench's cases were opened then
    assert _nodes(opened) == {world.ids[f"case{n}"] for n in range(3)} and opened["edges"] == []
    today = _json(client, **{"from": date.today().isoformat()})
    assert world.ids["case0"] in _nodes(today)  # an end of an item collected today
    assert ("register_lead", frozenset((world.ids["stolen"], world.ids["seized"]))) in _edges(today)


def test_types_narrow_the_records_and_the_links(world, login_as) -> None:
    client = login_as(world.bench.examiner)
    only_firearms = _json(client, filtered=1, type=["firearm"], link=["register_lead"], lead=["open", "confirmed"])
    assert _nodes(only_firearms) == {world.ids[k] for k in ("registered", "stolen", "seized")}
    assert _edges(only_firearms) == {("register_lead", frozenset((world.ids["stolen"], world.ids["seized"])))}
    ballistic = _json(client, filtered=1, type=["item"], link=["ballistic"])
    assert {e[0] for e in _edges(ballistic)} == {"ballistic"} and len(ballistic["edges"]) == 2
    nothing_ticked = _json(client, filtered=1)
    assert nothing_ticked["nodes"] == []


def test_the_focus_keeps_only_the_network_of_one_record(world, login_as) -> None:
    client = login_as(world.bench.examiner)
    lead_pair = _json(client, focus=world.ids["seized"])
    assert _nodes(lead_pair) == {world.ids["stolen"], world.ids["seized"]}
    shooting = _json(client, focus=world.ids["case1"])
    assert world.ids["registered"] in _nodes(shooting)  # case 1 -> casing 1 -> casing 0 -> test fire -> pistol
    assert world.ids["stolen"] not in _nodes(shooting)


@pytest.mark.parametrize(("args", "reason"), [
    ({"from": "2026-13-01"}, "is not a date"),
    ({"to": "yesterday"}, "is not a date"),
    ({"from": "2026-11-02", "to": "2026-11-01"}, "starts after it ends"),
    ({"type": "person"}, "Unknown node type person"),
    ({"link": "phone_call"}, "Unknown link type phone_call"),
    ({"lead": "maybe"}, "Unknown lead state maybe"),
    ({"focus": "firearm:abc"}, "named like firearm:12"),
    ({"focus": "../etc/passwd"}, "named like firearm:12"),
])
def test_bad_filters_are_refused_with_the_reason(world, login_as, args, reason) -> None:
    client = login_as(world.bench.examiner)
    answer = client.get("/firearms/chart.json", query_string=args, headers={"Accept": "application/json"})
    assert answer.status_code == 400 and reason in answer.get_json()["message"]
    for path in ("/firearms/chart", "/firearms/chart.graphml", "/firearms/chart-i2.zip", "/firearms/chart.pdf"):
        page = client.get(path, query_string=args)
        assert page.status_code == 400 and reason in page.get_data(as_text=True), path


def test_a_focus_on_no_record_of_the_chart_is_not_found(world, login_as) -> None:
    answer = login_as(world.bench.examiner).get("/firearms/chart.json", query_string={"focus": "case:999999"},
                                                headers={"Accept": "application/json"})
    assert answer.status_code == 404 and "not on this chart" in answer.get_json()["message"]


# --- exports --------------------------------------------------------------------------------------------

def test_the_graphml_reads_back_with_the_same_records_and_links(world, login_as) -> None:
    client = login_as(world.bench.examiner)
    body = _json(client)
    answer = client.get("/firearms/chart.graphml")
    assert answer.status_code == 200 and "attachment" in answer.headers["Content-Disposition"]
    graph = nx.read_graphml(io.BytesIO(answer.data), force_multigraph=True)
    assert set(graph.nodes) == _nodes(body)
    assert {(d["type"], frozenset((u, v))) for u, v, d in graph.edges(data=True)} == _edges(body)
    assert {key for _u, _v, key in graph.edges(keys=True)} == {e["data"]["id"] for e in body["edges"]}
    firearm = graph.nodes[world.ids["registered"]]
    assert firearm["type"] == "firearm" and firearm["url"].startswith("http://localhost/firearms/")
    assert graph.graph["unit_id"] == world.bench.unit.id


def _i2(client, **args) -> dict[str, list[list[str]]]:  # type: ignore[no-untyped-def]
    answer = client.get("/firearms/chart-i2.zip", query_string=args)
    assert answer.status_code == 200 and answer.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.data))
    assert sorted(archive.namelist()) == ["entities.csv", "links.csv"]
    files = {}
    for name in archive.namelist():
        raw = archive.read(name)
        assert raw.startswith(b"\xef\xbb\xbf")  # a byte-order mark: i2's wizard and Excel read it as UTF-8
        files[name] = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    return files


def test_the_i2_files_have_the_documented_columns_and_one_row_per_entity_and_link(world, login_as, record) -> None:
    record("", make="=HYPERLINK(\"http://x\")", model="", description="formula in the make")
    client = login_as(world.bench.examiner)
    files = _i2(client)
    entities, links = files["entities.csv"], files["links.csv"]
    assert tuple(entities[0]) == ENTITY_COLUMNS and tuple(links[0]) == LINK_COLUMNS
    assert ENTITY_COLUMNS == ("Identity", "Entity Type", "Label", "Date", "Description", "Status", "URL")
    assert len(entities) - 1 == 12 and len(links) - 1 == 10
    by_id = {row[0]: dict(zip(ENTITY_COLUMNS, row, strict=True)) for row in entities[1:]}
    assert by_id[world.ids["stolen"]]["Entity Type"] == "Firearm"
    assert by_id[world.ids["stolen"]]["Status"] == "Reported stolen"
    assert any(row["Label"].startswith("'=HYPERLINK") for row in by_id.values())  # never a formula
    [lead] = [dict(zip(LINK_COLUMNS, row, strict=True)) for row in links[1:] if row[0] == world.ids["lead"]]
    assert {lead["From Identity"], lead["To Identity"]} == {world.ids["stolen"], world.ids["seized"]}
    assert (lead["Link Type"], lead["State"], lead["Date"]) == ("Register lead", "open", date.today().isoformat())


def test_the_pdf_draws_the_chart_for_a_report(world, login_as) -> None:
    answer = login_as(world.bench.examiner).get("/firearms/chart.pdf")
    assert answer.status_code == 200 and answer.data.startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = " ".join(subprocess.run(["pdftotext", "-", "-"], input=answer.data, capture_output=True,
                                   check=True).stdout.decode().split())
    assert "Link chart" in text and world.bench.cases[1].case_number in text and "Register lead" in text


# --- the page and access --------------------------------------------------------------------------------

def test_the_page_loads_its_data_from_the_json_with_the_same_filters(world, login_as) -> None:
    client = login_as(world.bench.examiner)
    page = client.get("/firearms/chart", query_string={"from": "2026-11-01", "filtered": 1, "type": "case"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="link-chart"' in html
    assert "/firearms/chart.json?filtered=1&amp;type=case" in html and "from=2026-11-01" in html
    assert "vendor/cytoscape/cytoscape.min.js" in html and "/firearms/chart.graphml?" in html
    assert "/firearms/chart" in client.get("/firearms").get_data(as_text=True)  # the register links to it


def test_the_chart_needs_a_login(client) -> None:
    for path in ("/firearms/chart", "/firearms/chart.json", "/firearms/chart.graphml", "/firearms/chart-i2.zip",
                 "/firearms/chart.pdf"):
        answer = client.get(path)
        assert answer.status_code in (302, 401) and "/login" in answer.headers.get("Location", "/login"), path


@pytest.mark.parametrize(("role", "status", "types"), [
    (Role.ADMIN, 403, None),
    (Role.VIEWER, 200, {"firearm"}),  # the register only: viewers open no case, item or comparison
    (Role.CSI_OFFICER, 200, {"case", "item", "firearm"}),  # no ballistic links: CSI officers do not read comparisons
    (Role.AUDITOR, 200, {"case", "item", "firearm"}),
])
def test_each_role_sees_no_more_than_its_other_pages_show(world, login_as, make_user, role, status, types) -> None:
    user = make_user(world.bench.unit, role)
    answer = login_as(user).get("/firearms/chart.json", headers={"Accept": "application/json"})
    assert answer.status_code == status
    if types is not None:
        body = answer.get_json()
        assert {n["data"]["type"] for n in body["nodes"]} == types
        kinds = {e["data"]["type"] for e in body["edges"]}
        assert ("ballistic" in kinds) == (role == Role.AUDITOR)


def test_an_entry_received_from_another_unit_is_a_node_of_its_own(world, login_as) -> None:
    import hashlib
    import uuid

    from qms.db import utcnow

    received = BallisticEntry(unit_id=world.bench.unit.id, item_id=None, origin="imported", source_unit="FC-PARTNER",
                              source_label="KS-2026/77 / 4", acquired_at=utcnow(), kind="topography",
                              pixel_size_um=6.25, original_sha256=hashlib.sha256(b"partner").hexdigest(),
                              original_type="x3p", original_size=7, index_entry_id=uuid.uuid4().hex)
    db.session.add(received)
    db.session.flush()
    casing = db.session.scalars(db.select(BallisticEntry).where(
        BallisticEntry.item_id == int(world.ids["casing1"].split(":")[1]))).one()
    _confirmed_link(world.bench, casing, received)
    db.session.commit()
    body = _json(login_as(world.bench.examiner))
    [node] = [n["data"] for n in body["nodes"] if n["data"]["type"] == "external"]
    assert (node["id"], node["label"]) == (f"external:{received.id}", "KS-2026/77 / 4 (FC-PARTNER)")
    assert ("ballistic", frozenset((world.ids["casing1"], node["id"]))) in _edges(body)


def test_a_chart_too_large_to_draw_is_refused_but_still_downloads(world, login_as, monkeypatch) -> None:
    from qms.firearms import chart

    monkeypatch.setattr(chart, "MAX_DRAWN_NODES", 5)
    client = login_as(world.bench.examiner)
    answer = client.get("/firearms/chart.json", headers={"Accept": "application/json"})
    assert answer.status_code == 400 and "Narrow the period" in answer.get_json()["message"]
    assert client.get("/firearms/chart.pdf").status_code == 400
    assert client.get("/firearms/chart").status_code == 200  # the page, to narrow the filters
    assert client.get("/firearms/chart.graphml").status_code == 200
