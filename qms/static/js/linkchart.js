// The link chart: the unit's graph drawn with the vendored Cytoscape.js at the positions the server
// computed (no force layout in the page, so 5,000 records draw at once). Every text comes from the page
// (data- attributes, translated on the server). Tests and the benchmark read `window.qmsLinkChart` and the
// container's data-state, data-rendered-nodes, data-fetched-ms (data parsed) and data-render-ms (first
// frame drawn), both counted from the navigation's start.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("link-chart");
  if (box && typeof window.cytoscape === "function") loadChart(box);
});

const LARGE = 1500; // above this many records: cheaper edges, no edges while panning, names only when zoomed in

const NODE_STYLES = {
  case: { colour: "#1565c0", shape: "round-rectangle" },
  item: { colour: "#6d4c41", shape: "ellipse" },
  firearm: { colour: "#c62828", shape: "diamond" },
  external: { colour: "#6a1b9a", shape: "triangle" },
};
const LINK_COLOURS = {
  contains: "#9e9e9e", custody: "#c62828", test_fire: "#ef6c00", ballistic: "#2e7d32", register_lead: "#6a1b9a",
};

async function loadChart(box) {
  const status = document.getElementById("link-chart-status");
  let graph;
  try {
    const response = await fetch(box.dataset.source, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    const body = await response.json();
    if (!response.ok) throw new Error(body.message || response.statusText);
    graph = body;
    box.dataset.fetchedMs = String(Math.round(performance.now()));
  } catch (error) {
    status.textContent = `${box.dataset.failed} ${error.message}`;
    box.dataset.state = "failed";
    return;
  }
  if (graph.nodes.length === 0) {
    status.textContent = box.dataset.empty;
    box.dataset.renderedNodes = "0";
    box.dataset.state = "empty";
    return;
  }
  const cy = draw(box, graph);
  status.textContent = box.dataset.summary.replace("{nodes}", graph.nodes.length).replace("{links}", graph.edges.length);
  bindNavigation(cy, box);
  bindPng(cy);
}

function draw(box, graph) {
  const large = graph.nodes.length > LARGE;
  const cy = window.cytoscape({
    container: box,
    elements: { nodes: graph.nodes, edges: graph.edges },
    layout: { name: "preset", fit: false }, // fitted below from the positions: the library's fit measures every label
    ...fitted(graph.nodes, box),
    style: chartStyle(large),
    minZoom: 0.02,
    maxZoom: 4,
    boxSelectionEnabled: false,
    autoungrabify: large, // dragging single records in a huge chart only costs redraws
    hideEdgesOnViewport: large,
    textureOnViewport: large,
  });
  window.qmsLinkChart = cy;
  cy.one("render", () => {
    box.dataset.renderedNodes = String(cy.nodes().length);
    box.dataset.renderMs = String(Math.round(performance.now()));
    box.dataset.state = "rendered";
  });
  if (large) bindLabelsOnZoom(cy);
  return cy;
}

function fitted(nodes, box, padding = 30) {
  // The zoom and pan that show every position the server computed, as the preset layout's fit would.
  const xs = nodes.map((node) => node.position.x);
  const ys = nodes.map((node) => node.position.y);
  const left = Math.min(...xs), top = Math.min(...ys);
  const width = Math.max(Math.max(...xs) - left, 1), height = Math.max(Math.max(...ys) - top, 1);
  const zoom = Math.min((box.clientWidth - 2 * padding) / width, (box.clientHeight - 2 * padding) / height, 1.5);
  return {
    zoom,
    pan: { x: (box.clientWidth - width * zoom) / 2 - left * zoom, y: (box.clientHeight - height * zoom) / 2 - top * zoom },
  };
}

function bindLabelsOnZoom(cy) {
  // A large chart draws its names only for the records in view once zoomed in: measuring thousands of
  // labels would delay the first picture by seconds, and at the full view they cannot be read anyway.
  let timer;
  cy.on("viewport", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => {
      const extent = cy.extent();
      const inView = (node) => {
        const at = node.position();
        return at.x >= extent.x1 && at.x <= extent.x2 && at.y >= extent.y1 && at.y <= extent.y2;
      };
      cy.batch(() => {
        cy.nodes(".named").removeClass("named");
        if (cy.zoom() >= 0.6) cy.nodes().filter(inView).addClass("named");
      });
    }, 150);
  });
}

function chartStyle(large) {
  // Later rules win: the base looks, then each type's colour and shape, then the lead states.
  const named = {
    label: "data(label)", "font-size": 9, "text-valign": "bottom", "text-margin-y": 2, color: "#222",
    "min-zoomed-font-size": 6, "text-max-width": 140, "text-wrap": "ellipsis",
  };
  const node = large ? { width: 14, height: 14 } : { width: 14, height: 14, ...named };
  const edge = { width: 1.5, "curve-style": large ? "haystack" : "straight", "line-color": "#9e9e9e", opacity: 0.85 };
  return [
    { selector: "node", style: node },
    ...Object.entries(NODE_STYLES).map(([type, look]) => (
      { selector: `node[type = "${type}"]`, style: { "background-color": look.colour, shape: look.shape } })),
    { selector: "edge", style: edge },
    ...Object.entries(LINK_COLOURS).map(([type, colour]) => (
      { selector: `edge[type = "${type}"]`, style: { "line-color": colour } })),
    { selector: 'edge[type = "ballistic"]', style: { width: 2.5 } },
    { selector: 'edge[type = "register_lead"]', style: { "line-style": "dashed" } },
    { selector: 'edge[state = "confirmed"]', style: { "line-style": "solid", width: 2.5 } },
    { selector: 'edge[state = "dismissed"]', style: { "line-color": "#bdbdbd" } },
    { selector: "node.named", style: named },
    { selector: "node:selected", style: { "border-width": 3, "border-color": "#fbc02d" } },
  ];
}

function bindNavigation(cy, box) {
  cy.on("tap", "node", (event) => {
    const url = event.target.data("url");
    if (url) window.location.assign(url);
  });
  cy.on("cxttap taphold", "node", (event) => {
    const url = new URL(box.dataset.focusUrl, window.location.href);
    url.searchParams.set("focus", event.target.id());
    window.location.assign(url.toString());
  });
  cy.on("mouseover", "node", (event) => {
    const data = event.target.data();
    box.title = [data.label, data.detail, data.date].filter(Boolean).join(" · ");
  });
  cy.on("mouseout", "node", () => { box.removeAttribute("title"); });
}

function bindPng(cy) {
  const button = document.getElementById("export-png");
  if (!button) return;
  button.disabled = false;
  button.addEventListener("click", () => {
    const blob = cy.png({ output: "blob", full: true, bg: "#ffffff", maxWidth: 6000, maxHeight: 6000 });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "link-chart.png";
    document.body.appendChild(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  });
}
