"""The link chart: the unit's cases, items and firearms as one graph, with ballistic links and register leads.

Nodes (id "<type>:<record id>")
- ``case``: a case of the evidence register;
- ``item``: a custody item; its ballistic entries are folded into it (attribute ``entries``), since
  analysts follow items and cases, not scans;
- ``firearm``: a record of the firearm register;
- ``external``: an entry received from another unit (exchange package) that has no custody item here.

Links (id "<type>:<record id>")
- ``contains``: a case holds an item;
- ``custody``: a firearm of the register is this custody item;
- ``test_fire``: a cartridge case or bullet taken as a sub-item of a firearm item (a test fire);
- ``ballistic``: a confirmed ballistic link (`CaseLink`: first decision and blind verification) between
  the items of its two entries;
- ``register_lead``: a register lead between two firearm records, in the state ``open``, ``confirmed``
  or ``dismissed``.

Every node and link carries ``type``, ``label``, ``date`` (ISO, the day it happened), ``url`` (its page)
and, for nodes, ``first`` and ``last`` (the days of its activity) and ``detail``. The graph is built from the
current unit's records only, and only from the records the reader's roles may read elsewhere: the firearm
register for every reader; cases and items for readers of the evidence register; ballistic links for
readers of the comparisons.

Filters: a period (links dated in it, nodes active in it, and the ends of the kept links), node types,
link types, lead states, and "only the network of node X" (its connected component).

The layout is computed here, once (each connected component a radial tree, the components packed in
rows), so the browser draws at once (no force layout over thousands of nodes in the page) and the PDF
shows the same picture as the screen. Exports: `qms.firearms.chart_export`.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import networkx as nx
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from qms.auth.models import Role
from qms.comparisons import services as comparisons
from qms.comparisons.models import BallisticEntry, CaseLink, Decision
from qms.errors import InvalidInput, NotFound
from qms.evidence import services as evidence
from qms.evidence.models import Case, Item, ItemType
from qms.extensions import db
from qms.firearms.models import Firearm, FirearmEvent, FirearmLead, FirearmLeadDecision
from qms.firearms.services import EVENT_LABELS, TYPE_LABELS

NODE_TYPES = {"case": _l("Case"), "item": _l("Item"), "firearm": _l("Firearm"),
              "external": _l("Entry from another unit")}
LINK_TYPES = {"contains": _l("Item of the case"), "custody": _l("Firearm in custody as this item"),
              "test_fire": _l("Test fire of the firearm"), "ballistic": _l("Confirmed ballistic link"),
              "register_lead": _l("Register lead")}
LEAD_STATES = {"open": _l("Open"), "confirmed": _l("Confirmed"), "dismissed": _l("Dismissed")}
MAX_DRAWN_NODES = 10_000  # the page and the PDF; the exports are not limited
SPACING = 60.0  # screen pixels between neighbours
_NODE_ID = re.compile(r"^(case|item|firearm|external):([0-9]{1,12})$")
_TEST_FIRE_TYPES = {ItemType.CARTRIDGE_CASE.value, ItemType.BULLET.value}


# --- filters --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    start: date | None = None
    end: date | None = None
    node_types: frozenset[str] = frozenset(NODE_TYPES)
    link_types: frozenset[str] = frozenset(LINK_TYPES)
    lead_states: frozenset[str] = frozenset(LEAD_STATES)
    focus: str = ""

    def query(self) -> dict[str, Any]:
        """The filters as URL arguments (for the JSON and export links of the page)."""
        args: dict[str, Any] = {"filtered": 1, "type": sorted(self.node_types), "link": sorted(self.link_types),
                                "lead": sorted(self.lead_states)}
        args |= {"from": self.start.isoformat()} if self.start else {}
        args |= {"to": self.end.isoformat()} if self.end else {}
        return args | ({"focus": self.focus} if self.focus else {})


def parse_filters(args: MultiDict[str, str]) -> Filters:
    """The filters of a chart URL; anything unreadable is refused with the reason (400)."""
    start, end = _day(args.get("from", ""), _("The start of the period")), _day(args.get("to", ""),
                                                                               _("The end of the period"))
    if start and end and start > end:
        raise InvalidInput(_("The period starts after it ends: %(start)s > %(end)s.", start=start, end=end))
    given = "filtered" in args  # a submitted form: an unticked box means "none of these"
    focus = args.get("focus", "").strip()
    if focus and not _NODE_ID.match(focus):
        raise InvalidInput(_("The node to centre on is named like firearm:12 or case:3, not %(value)s.",
                             value=focus[:40]))
    return Filters(start=start, end=end, node_types=_choices(args, "type", NODE_TYPES, given, _("node type")),
                   link_types=_choices(args, "link", LINK_TYPES, given, _("link type")),
                   lead_states=_choices(args, "lead", LEAD_STATES, given, _("lead state")), focus=focus)


def _day(text: str, what: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        if len(text) != 10:  # fromisoformat also takes 20261101 and week dates: the form sends YYYY-MM-DD
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(_("%(what)s is not a date (YYYY-MM-DD): %(value)s", what=what, value=text[:40])) from None


def _choices(args: MultiDict[str, str], name: str, known: dict[str, Any], given: bool, what: str) -> frozenset[str]:
    values = [value for value in args.getlist(name) if value]
    unknown = [value for value in values if value not in known]
    if unknown:
        raise InvalidInput(_("Unknown %(what)s %(value)s; choose among %(known)s.", what=what, value=unknown[0][:40],
                             known=", ".join(known)))
    return frozenset(values) if values or given else frozenset(known)


# --- what the reader may see ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Sight:
    """Which sources the reader's roles open: the chart never shows more than the reader's other pages."""

    evidence: bool
    ballistics: bool

    @classmethod
    def of(cls, roles: Iterable[Role]) -> Sight:
        held = frozenset(roles)
        return cls(evidence=bool(held & evidence.READERS), ballistics=bool(held & comparisons.READERS))


# --- the graph ------------------------------------------------------------------------------------------

def build(unit_id: int, roles: Iterable[Role], filters: Filters = Filters()) -> nx.MultiGraph:
    """The unit's graph as the reader may see it, filtered; refused when the focus node is not in it."""
    sight = Sight.of(roles)
    graph = nx.MultiGraph(unit_id=unit_id)
    if sight.evidence:
        _add_cases(graph, unit_id)
        _add_item_links(graph, _add_items(graph, unit_id))
        _fold_entries(graph, unit_id)
    _add_firearms(graph, unit_id, with_items=sight.evidence)
    _add_leads(graph, unit_id)
    if sight.ballistics:
        _add_ballistic_links(graph, unit_id)
    return narrow(graph, filters)


_SENTINEL = 2_147_483_646  # a record id within the URL converter's range, replaced by each record's id


def _url_of(endpoint: str, argument: str) -> Callable[[int], str]:
    """Record URLs of one endpoint: `url_for` once, then each id put into its pattern (10,000 calls: half a second)."""
    head, tail = url_for(endpoint, **{argument: _SENTINEL}).split(str(_SENTINEL))
    return lambda record_id: f"{head}{record_id}{tail}"


def _iso(value: date | datetime | None) -> str:
    if value is None:
        return ""
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def _add_cases(graph: nx.MultiGraph, unit_id: int) -> None:
    rows = db.session.execute(select(Case.id, Case.case_number, Case.offence_type, Case.opened_on, Case.offence_date)
                              .where(Case.unit_id == unit_id).order_by(Case.id))
    case_url = _url_of("evidence.case", "case_id")
    for case_id, number, offence, opened_on, offence_date in rows:
        days = [day for day in (opened_on, offence_date) if day is not None]
        graph.add_node(f"case:{case_id}", type="case", label=number, detail=offence, date=_iso(opened_on),
                       first=_iso(min(days)), last=_iso(max(days)), url=case_url(case_id))


@dataclass(frozen=True)
class _ItemRow:
    id: int
    case_id: int
    parent_id: int | None
    item_type: str
    collected_on: str


def _add_items(graph: nx.MultiGraph, unit_id: int) -> dict[int, _ItemRow]:
    rows = db.session.execute(select(Item.id, Item.case_id, Item.parent_item_id, Item.exhibit_number, Item.item_type,
                                     Item.description, Item.collected_at, Case.case_number)
                              .join(Case, Case.id == Item.case_id).where(Item.unit_id == unit_id).order_by(Item.id))
    items, item_url = {}, _url_of("evidence.item", "item_id")
    for item_id, case_id, parent_id, exhibit, item_type, description, collected_at, number in rows:
        day = _iso(collected_at)
        graph.add_node(f"item:{item_id}", type="item", kind=item_type, label=f"{number} / {exhibit}",
                       detail=description[:200], date=day, first=day, last=day, entries=0,
                       url=item_url(item_id))
        items[item_id] = _ItemRow(item_id, case_id, parent_id, item_type, day)
    return items


def _add_item_links(graph: nx.MultiGraph, items: dict[int, _ItemRow]) -> None:
    item_url, contains, test_fire = _url_of("evidence.item", "item_id"), _label("contains"), _label("test_fire")
    for row in items.values():
        graph.add_edge(f"case:{row.case_id}", f"item:{row.id}", key=f"contains:{row.id}", type="contains",
                       label=contains, date=row.collected_on, state="", url=item_url(row.id))
        parent = items.get(row.parent_id) if row.parent_id is not None else None
        if parent is not None and parent.item_type == ItemType.FIREARM.value and row.item_type in _TEST_FIRE_TYPES:
            graph.add_edge(f"item:{row.id}", f"item:{parent.id}", key=f"test_fire:{row.id}", type="test_fire",
                           label=test_fire, date=row.collected_on, state="", url=item_url(row.id))


def _label(link_type: str) -> str:
    return str(LINK_TYPES[link_type])  # translated once per chart, not once per link


def _fold_entries(graph: nx.MultiGraph, unit_id: int) -> None:
    counts = db.session.execute(select(BallisticEntry.item_id, func.count(BallisticEntry.id))
                                .where(BallisticEntry.unit_id == unit_id, BallisticEntry.item_id.is_not(None))
                                .group_by(BallisticEntry.item_id))
    for item_id, count in counts:
        node = f"item:{item_id}"
        if node in graph:
            graph.nodes[node]["entries"] = int(count)


def _add_firearms(graph: nx.MultiGraph, unit_id: int, *, with_items: bool) -> None:
    events = _firearm_events(unit_id)
    rows = db.session.execute(select(Firearm.id, Firearm.firearm_type, Firearm.make, Firearm.model, Firearm.calibre,
                                     Firearm.serial_number, Firearm.item_id, Firearm.created_at)
                              .where(Firearm.unit_id == unit_id).order_by(Firearm.id))
    firearm_url, custody, statuses = _url_of("firearms.firearm", "firearm_id"), _label("custody"), status_labels()
    for firearm_id, kind, make, model, calibre, serial, item_id, created_at in rows:
        history = events.get(firearm_id, [])
        days = [day for day, _kind in history] or [created_at.date()]
        status = history[-1][1] if history else ""
        name = " ".join(part for part in (make, model) if part) or str(TYPE_LABELS.get(kind, kind))
        node = f"firearm:{firearm_id}"
        graph.add_node(node, type="firearm", kind=kind, label=f"{name} {serial}".strip(),
                       detail=", ".join(part for part in (calibre, statuses.get(status, "")) if part), status=status,
                       date=_iso(days[0]), first=_iso(min(days)), last=_iso(max(days)),
                       url=firearm_url(firearm_id))
        if with_items and item_id is not None and f"item:{item_id}" in graph:
            graph.add_edge(node, f"item:{item_id}", key=f"custody:{firearm_id}", type="custody",
                           label=custody, date=graph.nodes[f"item:{item_id}"]["date"], state="",
                           url=firearm_url(firearm_id))


def _firearm_events(unit_id: int) -> dict[int, list[tuple[date, str]]]:
    """Each firearm's events as (day, kind), in the order that makes the last one its status."""
    rows = db.session.execute(select(FirearmEvent.firearm_id, FirearmEvent.occurred_on, FirearmEvent.kind)
                              .where(FirearmEvent.unit_id == unit_id)
                              .order_by(FirearmEvent.firearm_id, FirearmEvent.occurred_on, FirearmEvent.id))
    events: dict[int, list[tuple[date, str]]] = defaultdict(list)
    for firearm_id, day, kind in rows:
        events[firearm_id].append((day, kind))
    return events


def status_labels() -> dict[str, str]:
    """A firearm's status (its latest event's kind) in the reader's words, translated once per chart."""
    return {kind.value: str(label) for kind, label in EVENT_LABELS.items()}


def _add_leads(graph: nx.MultiGraph, unit_id: int) -> None:
    rows = db.session.execute(select(FirearmLead.id, FirearmLead.firearm_low_id, FirearmLead.firearm_high_id,
                                     FirearmLead.found_at, FirearmLeadDecision.outcome)
                              .outerjoin(FirearmLeadDecision, FirearmLeadDecision.lead_id == FirearmLead.id)
                              .where(FirearmLead.unit_id == unit_id).order_by(FirearmLead.id))
    lead_url = _url_of("firearms.lead", "lead_id")
    labels = {state: f"{LINK_TYPES['register_lead']} ({name})" for state, name in LEAD_STATES.items()}
    for lead_id, low, high, found_at, outcome in rows:
        state = outcome or "open"
        graph.add_edge(f"firearm:{low}", f"firearm:{high}", key=f"register_lead:{lead_id}", type="register_lead",
                       label=labels[state], date=_iso(found_at), state=state, url=lead_url(lead_id))


def _add_ballistic_links(graph: nx.MultiGraph, unit_id: int) -> None:
    rows = list(db.session.execute(select(CaseLink.id, CaseLink.entry_low_id, CaseLink.entry_high_id,
                                          CaseLink.confirmed_at, Decision.candidate_id)
                                   .join(Decision, Decision.id == CaseLink.first_decision_id)
                                   .where(CaseLink.unit_id == unit_id).order_by(CaseLink.id)))
    ends = _entry_nodes(graph, unit_id, {entry for row in rows for entry in row[1:3]})
    candidate_url, entry_url = _url_of("comparisons.review", "candidate_id"), _url_of("comparisons.entry", "entry_id")
    ballistic = _label("ballistic")
    for link_id, low, high, confirmed_at, candidate_id in rows:
        a, b = ends.get(low), ends.get(high)
        if a is None or b is None or a == b:  # two scans of one item linked: no link between records
            continue
        url = candidate_url(candidate_id) if candidate_id is not None else entry_url(high)
        graph.add_edge(a, b, key=f"ballistic:{link_id}", type="ballistic", label=ballistic,
                       date=_iso(confirmed_at), state="", url=url)


def _entry_nodes(graph: nx.MultiGraph, unit_id: int, entry_ids: set[int]) -> dict[int, str]:
    """The node of each linked entry: its item, or an "external" node for an entry received without one."""
    if not entry_ids:
        return {}
    rows = db.session.execute(select(BallisticEntry.id, BallisticEntry.item_id, BallisticEntry.source_label,
                                     BallisticEntry.source_unit, BallisticEntry.acquired_at)
                              .where(BallisticEntry.unit_id == unit_id, BallisticEntry.id.in_(entry_ids)))
    nodes = {}
    for entry_id, item_id, source_label, source_unit, acquired_at in rows:
        if item_id is not None:
            nodes[entry_id] = f"item:{item_id}"
            continue
        node, day = f"external:{entry_id}", _iso(acquired_at)
        graph.add_node(node, type="external", kind="", label=f"{source_label or entry_id} ({source_unit})",
                       detail=source_unit, date=day, first=day, last=day, entries=1,
                       url=url_for("comparisons.entry", entry_id=entry_id))
        nodes[entry_id] = node
    return nodes


# --- filtering ------------------------------------------------------------------------------------------

def narrow(kept: nx.MultiGraph, filters: Filters) -> nx.MultiGraph:
    """The graph narrowed by the filters, in place (period, types, lead states), then to the focus's component."""
    if filters.start or filters.end:
        _narrow_to_period(kept, filters.start.isoformat() if filters.start else "",
                          filters.end.isoformat() if filters.end else "9999-12-31")
    kept.remove_nodes_from([n for n, kind in kept.nodes(data="type") if kind not in filters.node_types])
    kept.remove_edges_from([(u, v, k) for u, v, k, data in kept.edges(keys=True, data=True)
                            if data["type"] not in filters.link_types
                            or (data["type"] == "register_lead" and data["state"] not in filters.lead_states)])
    if filters.focus:
        if filters.focus not in kept:
            raise NotFound(_("%(node)s is not on this chart: it is not a record of this unit, or the filters "
                             "leave it out.", node=filters.focus))
        kept = kept.subgraph(nx.node_connected_component(kept, filters.focus)).copy()
    return kept


def _narrow_to_period(graph: nx.MultiGraph, start: str, end: str) -> None:
    """Keep the links dated in the period, the nodes active in it, and the ends of the kept links."""
    outside = [(u, v, k) for u, v, k, day in graph.edges(keys=True, data="date") if not start <= day <= end]
    graph.remove_edges_from(outside)
    idle = [node for node, data in graph.nodes(data=True)
            if graph.degree(node) == 0 and not (data["first"] <= end and data["last"] >= start)]
    graph.remove_nodes_from(idle)


# --- layout ---------------------------------------------------------------------------------------------

def layout(graph: nx.MultiGraph) -> dict[str, tuple[float, float]]:
    """Screen positions (pixels): each connected component a radial tree, the components packed in rows.

    Linear in the size of the graph, so 5,000 records are placed in a few tens of milliseconds (a force
    layout over them takes seconds in Python and in the browser). Links outside the breadth-first tree
    (a cycle of ballistic links) are drawn as chords across the rings.
    """
    adjacency = {node: sorted(set(graph.adj[node])) for node in graph.nodes}
    components = sorted(nx.connected_components(graph), key=lambda nodes: (-len(nodes), min(nodes)))
    return _pack([_normalised(_radial_tree(adjacency, nodes)) for nodes in components])


def _radial_tree(adjacency: dict[str, list[str]], nodes: set[str]) -> dict[str, tuple[float, float]]:
    """Breadth-first rings around the best-connected node, each subtree in an angle proportional to its size."""
    root = min(nodes, key=lambda node: (-len(adjacency[node]), node))
    children, order = _bfs_tree(adjacency, root)
    sizes: dict[str, int] = {}
    for node in reversed(order):
        sizes[node] = 1 + sum(sizes[child] for child in children[node])
    radii = _ring_radii(children, root)
    positions = {root: (0.0, 0.0)}
    stack = [(root, 0.0, 2 * math.pi, 0)]
    while stack:
        node, start, span, depth = stack.pop()
        radius = radii[depth]
        for child in children[node]:
            share = span * sizes[child] / (sizes[node] - 1)
            middle = start + share / 2
            positions[child] = (radius * math.cos(middle), radius * math.sin(middle))
            stack.append((child, start, share, depth + 1))
            start += share
    return positions


def _ring_radii(children: dict[str, list[str]], root: str) -> list[float]:
    """Each ring a step further out, and long enough for its nodes half a spacing apart."""
    counts, ring = [], [root]
    while ring:
        ring = [child for node in ring for child in children[node]]
        counts.append(len(ring))
    radii: list[float] = []
    for count in counts:
        radii.append(max((radii[-1] if radii else 0.0) + SPACING, count * SPACING / 2 / (2 * math.pi)))
    return radii


def _bfs_tree(adjacency: dict[str, list[str]], root: str) -> tuple[dict[str, list[str]], list[str]]:
    children: dict[str, list[str]] = {root: []}
    order, at = [root], 0
    while at < len(order):
        node = order[at]
        at += 1
        for other in adjacency[node]:
            if other not in children:
                children[other] = []
                children[node].append(other)
                order.append(other)
    return children, order


@dataclass
class _Box:
    positions: dict[str, tuple[float, float]]
    width: float
    height: float


def _normalised(positions: dict[str, tuple[float, float]]) -> _Box:
    xs, ys = [x for x, _ in positions.values()], [y for _, y in positions.values()]
    left, top = min(xs), min(ys)
    return _Box({node: (x - left, y - top) for node, (x, y) in positions.items()}, max(xs) - left, max(ys) - top)


def _pack(boxes: list[_Box]) -> dict[str, tuple[float, float]]:
    """Shelf packing, largest first, in rows about as wide as the whole is high (a square-ish picture)."""
    margin = SPACING
    row_width = math.sqrt(sum((b.width + margin) * (b.height + margin) for b in boxes)) * 1.2 if boxes else 0.0
    positions: dict[str, tuple[float, float]] = {}
    x = y = row_height = 0.0
    for box in boxes:
        if x > 0 and x + box.width > row_width:
            x, y, row_height = 0.0, y + row_height + margin, 0.0
        positions.update({node: (round(x + px, 1), round(y + py, 1)) for node, (px, py) in box.positions.items()})
        x += box.width + margin
        row_height = max(row_height, box.height)
    return positions


# --- what the pages and exports call --------------------------------------------------------------------

@dataclass(frozen=True)
class ChartPage:
    filters: Filters
    sight: Sight
    query: dict[str, Any] = field(default_factory=dict)

    @property
    def unfocused(self) -> dict[str, Any]:
        """The URL arguments without the focus: every network again."""
        return {name: value for name, value in self.query.items() if name != "focus"}


def chart_page(roles: Iterable[Role], args: MultiDict[str, str]) -> ChartPage:
    """The page: its filters read (bad ones refused before anything is drawn) and what the reader sees."""
    filters = parse_filters(args)
    return ChartPage(filters, Sight.of(roles), filters.query())


def drawable(unit_id: int, roles: Iterable[Role], args: MultiDict[str, str]) -> nx.MultiGraph:
    """The filtered graph, refused when it is too large to draw well (narrow the period or the types)."""
    graph = build(unit_id, roles, parse_filters(args))
    if graph.number_of_nodes() > MAX_DRAWN_NODES:
        raise InvalidInput(_("The chart would have %(count)d nodes; a browser draws %(limit)d well. Narrow the "
                             "period or the types, or download the GraphML or i2 files, which have no limit.",
                             count=graph.number_of_nodes(), limit=MAX_DRAWN_NODES))
    return graph


def chart_json(unit_id: int, roles: Iterable[Role], args: MultiDict[str, str]) -> dict[str, Any]:
    """The chart in Cytoscape.js's elements format, with positions, and the counts by type."""
    graph = drawable(unit_id, roles, args)
    positions = layout(graph)
    nodes = [{"data": {"id": node, **data}, "position": {"x": positions[node][0], "y": positions[node][1]}}
             for node, data in graph.nodes(data=True)]
    edges = [{"data": {"id": key, "source": u, "target": v, **data}} for u, v, key, data in
             graph.edges(keys=True, data=True)]
    return {"nodes": nodes, "edges": edges, "counts": counts(graph)}


def counts(graph: nx.MultiGraph) -> dict[str, dict[str, int]]:
    nodes: dict[str, int] = defaultdict(int)
    links: dict[str, int] = defaultdict(int)
    for _node, kind in graph.nodes(data="type"):
        nodes[kind] += 1
    for _u, _v, kind in graph.edges(data="type"):
        links[kind] += 1
    return {"nodes": dict(nodes), "links": dict(links)}
