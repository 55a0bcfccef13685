// Ballistic review pages: job progress polling (the ranking, then the review images), the overlay slider,
// zoom and pan of the full-resolution images (vendored Panzoom, kept in step across query, candidate and
// overlay), keyboard navigation.
document.addEventListener("DOMContentLoaded", () => {
  pollJob();
  bindOverlaySlider();
  bindZoom();
  bindCandidateKeys();
});

function pollJob() {
  const section = document.querySelector("[data-job-url]");
  if (!section || ["done", "failed"].includes(section.dataset.jobState)) return;
  const tick = async () => {
    try {
      const response = await fetch(section.dataset.jobUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const job = await response.json();
        show("job-state", job.state_label || job.state);
        show("job-stage", job.stage_label || job.stage);
        const progress = document.getElementById("job-progress");
        if (progress) progress.value = job.progress;
        // The ranking is saved before the review images: show the candidates as soon as they exist.
        const ranked = job.candidates > Number(section.dataset.jobCandidates || 0);
        if (ranked || job.state === "done" || job.state === "failed") {
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      // The server may be restarting: keep polling.
    }
    window.setTimeout(tick, 1000);
  };
  window.setTimeout(tick, 500);  // the ranking of a small index is often saved within a second
}

function show(id, text) {
  const element = document.getElementById(id);
  if (element) element.textContent = text;
}

function bindOverlaySlider() {
  const slider = document.getElementById("overlay-slider");
  if (!slider) return;
  const top = document.getElementById(slider.dataset.overlayTarget);
  const apply = () => { top.style.opacity = String(Number(slider.value) / 100); };
  slider.addEventListener("input", apply);
  apply();
}

function bindCandidateKeys() {
  const links = Array.from(document.querySelectorAll("a[data-candidate-link]"));
  let current = -1;
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    const forward = event.key === "j" || event.key === "ArrowDown" || event.key === "ArrowRight";
    const back = event.key === "k" || event.key === "ArrowUp" || event.key === "ArrowLeft";
    if (!forward && !back) return;
    const nav = document.querySelector(`a[data-nav="${forward ? "next" : "prev"}"]`);
    if (nav) {  // review page: go to the next or previous candidate
      event.preventDefault();
      window.location.assign(nav.href);
      return;
    }
    if (!links.length) return;  // entry page: move the focus through the candidate list
    event.preventDefault();
    current = Math.max(0, Math.min(links.length - 1, current + (forward ? 1 : -1)));
    links[current].focus();
  });
}

// Up to this many screen pixels per scan point at the largest zoom.
const ZOOM_PIXELS_PER_POINT = 12;

function maxScaleOf(image) {
  const shown = image.clientWidth || image.width || 1;
  return Math.max(4, (image.naturalWidth * ZOOM_PIXELS_PER_POINT) / shown);
}

function bindZoom() {
  if (typeof Panzoom !== "function") return;
  const linked = Array.from(document.querySelectorAll("img.zoomable"));
  const zooms = linked.map((image) => zoomOn(image));
  let following = false;
  // Query, candidate and overlay share one pixel grid: the same scale and pan shows the same spot.
  zooms.forEach((zoom, i) => {
    linked[i].addEventListener("panzoomchange", (event) => {
      if (following) return;
      following = true;
      const { x, y, scale } = event.detail;
      zooms.forEach((other, j) => {
        if (j === i) return;
        other.zoom(scale, { animate: false, silent: true });
        other.pan(x, y, { animate: false, silent: true });
      });
      following = false;
      const level = document.getElementById("zoom-level");
      if (level) level.textContent = `${Math.round(scale * 100)} %`;
    });
  });
  document.querySelectorAll("[data-zoom]").forEach((button) => {
    button.addEventListener("click", () => {
      const lead = zooms[zooms.length - 1];  // the overlay leads; the change event moves the others
      if (!lead) return;
      const action = button.dataset.zoom;
      if (action === "in") lead.zoomIn({ animate: false });
      else if (action === "out") lead.zoomOut({ animate: false });
      else lead.reset({ animate: false });
    });
  });
  document.querySelectorAll("img.zoomable-single").forEach((image) => zoomOn(image));
}

function zoomOn(image) {
  const zoom = Panzoom(image, { maxScale: 4, minScale: 1, step: 0.5, contain: "outside", cursor: "grab" });
  const setLimit = () => zoom.setOptions({ maxScale: maxScaleOf(image) });
  if (image.complete) setLimit(); else image.addEventListener("load", setLimit);
  image.parentElement.addEventListener("wheel", zoom.zoomWithWheel);
  return zoom;
}
