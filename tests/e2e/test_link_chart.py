"""The link chart in a browser, on `qms demo`: the examiner opens the chart, Cytoscape.js draws the demo's
records (the homicide case with its pistol and test fire, the firearm register with its lead), a click on
a firearm opens its record, the GraphML download reads back with networkx with the nodes the page drew,
and the picture downloads as a PNG. No request leaves the machine, no CSP violation, no script error.
"""
from __future__ import annotations

import networkx as nx
import pytest
from tests.e2e.steps import expect as _expect, log_in as _log_in

pytestmark = pytest.mark.e2e
RENDERED = '#link-chart[data-state="rendered"]'


def _click_node(page, node_id: str, button: str = "left") -> str:  # type: ignore[no-untyped-def]
    """Click a node where the page draws it (the chart scrolled into view first); its record's URL."""
    page.locator("#link-chart").scroll_into_view_if_needed()
    node = page.evaluate("""(id) => { const node = window.qmsLinkChart.$id(id);
                                      return {url: node.data('url'), at: node.renderedPosition()}; }""", node_id)
    box = page.locator("#link-chart").bounding_box()
    page.mouse.click(box["x"] + node["at"]["x"], box["y"] + node["at"]["y"], button=button)
    return node["url"]


def _open_chart(session, query: str = "") -> list[str]:  # type: ignore[no-untyped-def]
    page = session.page
    page.goto("firearms/chart" + query)
    page.wait_for_selector(RENDERED)
    return page.evaluate("window.qmsLinkChart.nodes().map((node) => node.id())")


def test_the_chart_draws_the_demo_records_and_its_graphml_reads_back(browser_session) -> None:  # type: ignore
    page = browser_session.page
    _log_in(page, "examiner", browser_session.server.accounts["examiner"])
    page.goto("firearms")
    page.get_by_role("link", name="Link chart").click()
    page.wait_for_selector(RENDERED)
    drawn = page.evaluate("window.qmsLinkChart.nodes().map((node) => node.id())")
    assert int(page.get_attribute("#link-chart", "data-rendered-nodes")) == len(drawn) > 0
    types = set(page.evaluate("window.qmsLinkChart.nodes().map((node) => node.data('type'))"))
    assert {"case", "item", "firearm"} <= types
    leads = page.evaluate("window.qmsLinkChart.edges('[type = \"register_lead\"]').length")
    assert leads >= 1  # the stolen pistol and the seized one with the ground-off serial
    _expect()(page.locator("#link-chart-status")).to_contain_text("records")

    with page.expect_download() as graphml:
        page.locator("#export-graphml").click()
    graph = nx.read_graphml(graphml.value.path(), force_multigraph=True)
    assert set(graph.nodes) == set(drawn)
    edges = page.evaluate("window.qmsLinkChart.edges().map((edge) => edge.id())")
    assert {key for _u, _v, key in graph.edges(keys=True)} == set(edges)

    with page.expect_download() as png:
        page.locator("#export-png").click()
    assert png.value.path().read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    browser_session.assert_clean()


def test_a_click_opens_the_record_and_a_right_click_keeps_its_network(browser_session) -> None:  # type: ignore
    page = browser_session.page
    _log_in(page, "examiner", browser_session.server.accounts["examiner"])
    _open_chart(browser_session, "?filtered=1&type=firearm&link=register_lead&lead=open&lead=confirmed"
                "&lead=dismissed")
    firearm = page.evaluate("""(() => { const cy = window.qmsLinkChart;
        const node = cy.nodes('[type = "firearm"]').first();
        cy.zoom(1);
        cy.center(node);
        return node.id(); })()""")
    _click_node(page, firearm, button="right")
    page.wait_for_url(f"**focus={firearm.replace(':', '%3A')}*")
    page.wait_for_selector(RENDERED)
    network = page.evaluate("window.qmsLinkChart.nodes().map((node) => node.id())")
    assert firearm in network and len(network) < 10
    _expect()(page.locator("form.chart-filters")).to_contain_text("Only the network of")

    url = _click_node(page, firearm)
    page.wait_for_url(f"**{url}")
    _expect()(page.get_by_role("heading", level=1)).to_be_visible()
    browser_session.assert_clean()
