"""Link chart of 5,000 nodes: time to first render in the browser (issue 18's measure).

A fresh SQLite instance gets a synthetic unit: 1,000 cases, each with a casing and a bullet; 500 of them
also with a pistol and its test fire, the pistol in the firearm register; 500 more register records
without a custody item; ballistic links chaining casings and test fires in groups of 2 to 6 (serial
shootings) plus one network of about 150 cases (one prolific pistol); register leads between records
(open, confirmed, dismissed). That is 1,000 + 3,000 + 1,000 = 5,000 nodes. Rows are inserted in bulk (the
services would take minutes and are not what is measured); the chart is built by the real service.

The app is served by waitress in a thread; Debian's Chromium (Playwright, /usr/bin/chromium) logs in
once, then opens the chart page RUNS times in fresh tabs. "Time to first render" is the page's own mark:
`performance.now()` when Cytoscape.js fires its first `render` event, counted from the navigation's
start (so it includes the HTML, the scripts, the JSON request with the graph built and laid out on the
server, and the drawing). The JSON request's own time is read from Resource Timing.

    python bench/bench_link_chart.py            # 5 runs
    python bench/bench_link_chart.py --runs 9 --cases 2000
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchapp import bench_app

CHROMIUM = "/usr/bin/chromium"
USERNAME, PASSWORD = "analyst", "link-chart-bench-passphrase-1"


def _rows(cases: int, seed: int = 18) -> dict[str, list[dict[str, object]]]:
    """Every row of the synthetic unit, with explicit ids (a fresh database), as insert() parameter lists."""
    rnd = random.Random(seed)
    start = datetime(2024, 1, 1, 9, tzinfo=UTC)
    rows: dict[str, list[dict[str, object]]] = {name: [] for name in (
        "case", "item", "firearm", "event", "lead", "decision", "entry", "verdict", "link")}
    shots: list[int] = []  # items that are cartridge cases (scene casings and test fires)
    for n in range(1, cases + 1):
        when = start + timedelta(hours=17 * n)
        rows["case"].append({"id": n, "unit_id": 1, "case_number": f"BENCH-{n:05d}", "offence_type": "Shooting",
                             "opened_on": when.date(), "created_by_id": 1})
        for exhibit, kind in (("1", "cartridge_case"), ("2", "bullet")):
            _item(rows, n, exhibit, kind, when)
        shots.append(len(rows["item"]) - 1)
        if n <= cases // 2:
            pistol = _item(rows, n, "3", "firearm", when)
            _item(rows, n, "3-TF1", "cartridge_case", when + timedelta(days=3), parent=pistol)
            shots.append(len(rows["item"]))
            _firearm(rows, pistol, when.date(), "seized")
    for _n in range(cases // 2):
        _firearm(rows, None, (start + timedelta(days=rnd.randrange(700))).date(), "reported_stolen")
    _ballistic_links(rows, shots, rnd)
    _leads(rows, rnd)
    return rows


def _item(rows, case_id: int, exhibit: str, kind: str, when: datetime,  # type: ignore[no-untyped-def]
          parent: int | None = None) -> int:
    item_id = len(rows["item"]) + 1
    rows["item"].append({"id": item_id, "unit_id": 1, "case_id": case_id, "exhibit_number": exhibit, "item_type": kind,
                         "description": f"{kind.replace('_', ' ')} of case {case_id}", "collected_by_id": 1,
                         "collected_at": when, "label_code": f"B{item_id:08d}", "parent_item_id": parent})
    return item_id


def _firearm(rows, item_id: int | None, day: date, event: str) -> None:  # type: ignore[no-untyped-def]
    firearm_id = len(rows["firearm"]) + 1
    rows["firearm"].append({"id": firearm_id, "unit_id": 1, "firearm_type": "pistol", "make": "Zastava",
                            "model": "M57", "serial_number": f"BN{firearm_id:06d}", "item_id": item_id,
                            "created_by_id": 1})
    rows["event"].append({"unit_id": 1, "firearm_id": firearm_id, "kind": event, "occurred_on": day,
                          "recorded_by_id": 1})


def _ballistic_links(rows, shots: list[int], rnd: random.Random) -> None:  # type: ignore[no-untyped-def]
    order = rnd.sample(shots, len(shots))
    groups, at = [], 0
    groups.append(order[:150])  # one prolific pistol: a network of about 150 cases
    at = 150
    while at < len(order) * 2 // 3:
        size = rnd.randint(2, 6)
        groups.append(order[at:at + size])
        at += size
    for group in groups:
        entries = [_entry(rows, item) for item in group]
        for a, b in zip(entries, entries[1:], strict=False):
            _link(rows, a, b)


def _entry(rows, item_id: int) -> int:  # type: ignore[no-untyped-def]
    entry_id = len(rows["entry"]) + 1
    rows["entry"].append({"id": entry_id, "unit_id": 1, "item_id": item_id, "acquired_by_id": 1,
                          "acquired_at": datetime(2025, 1, 1, tzinfo=UTC), "kind": "topography", "pixel_size_um": 6.25,
                          "original_sha256": f"{entry_id:064x}", "original_type": "x3p", "original_size": 1,
                          "index_entry_id": f"{entry_id:032x}", "origin": "local"})
    return entry_id


def _link(rows, a: int, b: int) -> None:  # type: ignore[no-untyped-def]
    low, high = sorted((a, b))
    first = len(rows["verdict"]) + 1
    for offset, role in enumerate(("first", "verification")):
        rows["verdict"].append({"id": first + offset, "unit_id": 1, "entry_low_id": low, "entry_high_id": high,
                                "role": role, "conclusion": "identification_lead", "examiner_id": 1})
    rows["link"].append({"unit_id": 1, "entry_low_id": low, "entry_high_id": high, "first_decision_id": first,
                         "verification_id": first + 1, "confirmed_at": datetime(2025, 6, 1, tzinfo=UTC)})


def _leads(rows, rnd: random.Random) -> None:  # type: ignore[no-untyped-def]
    """A lead pairs a stolen report with a seized record, as the register's matching does (not at random)."""
    seized = [f["id"] for f in rows["firearm"] if f["item_id"] is not None]
    stolen = [f["id"] for f in rows["firearm"] if f["item_id"] is None]
    pairs = zip(rnd.sample(seized, len(seized) * 4 // 5), rnd.sample(stolen, len(stolen) * 4 // 5), strict=True)
    for n, (low, high) in enumerate(sorted(tuple(sorted(pair)) for pair in pairs), start=1):
        rows["lead"].append({"id": n, "unit_id": 1, "firearm_low_id": low, "firearm_high_id": high, "basis": "serial"})
        if n % 3:
            rows["decision"].append({"unit_id": 1, "lead_id": n, "outcome": "confirmed" if n % 3 == 1 else "dismissed",
                                     "decided_by_id": 1})


def seed(app, cases: int) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import insert

    from qms.auth import services
    from qms.auth.models import Role
    from qms.commands import upgrade_database
    from qms.comparisons.models import BallisticEntry, CaseLink, Decision
    from qms.evidence.models import Case, Item
    from qms.extensions import db
    from qms.firearms.models import Firearm, FirearmEvent, FirearmLead, FirearmLeadDecision

    with app.app_context():
        upgrade_database()
        unit = services.create_unit(code="BENCH", name="Link chart bench")
        services.create_user(username=USERNAME, full_name="Bench Analyst", password=PASSWORD, unit=unit,
                             roles=(Role.EXAMINER,))
        db.session.commit()
        models = {"case": Case, "item": Item, "firearm": Firearm, "event": FirearmEvent, "lead": FirearmLead,
                  "decision": FirearmLeadDecision, "entry": BallisticEntry, "verdict": Decision, "link": CaseLink}
        for name, rows in _rows(cases).items():
            if rows:
                db.session.execute(insert(models[name]), rows)
        db.session.commit()


def serve(app):  # type: ignore[no-untyped-def]
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return server


def measure(base_url: str, runs: int) -> list[dict[str, float]]:
    from playwright.sync_api import sync_playwright

    figures = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto("login")
        page.get_by_label("User name").fill(USERNAME)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/")
        page.close()
        for _run in range(runs):
            page = context.new_page()
            answer = page.goto("firearms/chart", wait_until="commit")
            if answer is None or answer.status != 200:
                raise SystemExit(f"the chart page answered {answer.status if answer else 'nothing'}")
            page.wait_for_selector('#link-chart[data-state="rendered"], #link-chart[data-state="failed"]',
                                   timeout=300_000)
            figures.append(page.evaluate("""() => {
                const box = document.getElementById('link-chart');
                const json = performance.getEntriesByType('resource').find((r) => r.name.includes('chart.json'));
                return {render_ms: Number(box.dataset.renderMs), fetched_ms: Number(box.dataset.fetchedMs),
                        nodes: Number(box.dataset.renderedNodes),
                        edges: window.qmsLinkChart.edges().length, json_ms: json.responseEnd - json.startTime,
                        json_bytes: json.encodedBodySize};
            }"""))
            page.screenshot(path=str(Path(tempfile.gettempdir()) / "link-chart-bench.png"))
            page.close()
        browser.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cases", type=int, default=1000, help="1,000 cases give 5,000 nodes")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-link-chart-") as folder:
        app = bench_app(Path(folder))
        began = time.perf_counter()
        seed(app, options.cases)
        print(f"seeded {options.cases} cases in {time.perf_counter() - began:.1f} s")
        server = serve(app)
        try:
            figures = measure(f"http://127.0.0.1:{server.effective_port}/", options.runs)
        finally:
            server.close()
    first = figures[0]
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end (shared machines "
          "inflate every figure below)")
    print(f"chart: {first['nodes']} nodes, {first['edges']} links, JSON {first['json_bytes'] / 1e6:.2f} MB")
    for f in figures:
        f["draw_ms"] = f["render_ms"] - f["fetched_ms"]
    for name, key in (("time to first render (from navigation start)", "render_ms"),
                      ("  chart.json request (server: build, layout, JSON)", "json_ms"),
                      ("  data parsed (from navigation start)", "fetched_ms"),
                      ("  Cytoscape.js: data parsed to first frame", "draw_ms")):
        values = [f[key] for f in figures]
        print(f"{name}: median {statistics.median(values):.0f} ms, min {min(values):.0f}, max {max(values):.0f} "
              f"({len(values)} runs)")
    print(f"screenshot: {Path(tempfile.gettempdir()) / 'link-chart-bench.png'}")


if __name__ == "__main__":
    sys.exit(main())
