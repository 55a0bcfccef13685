// Ballistic review pages: job progress polling, the overlay slider, keyboard navigation (j/k, arrows).
document.addEventListener("DOMContentLoaded", () => {
  pollJob();
  bindOverlaySlider();
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
        document.getElementById("job-state").textContent = job.state;
        document.getElementById("job-stage").textContent = job.stage;
        document.getElementById("job-progress").value = job.progress;
        if (job.state === "done" || job.state === "failed") {
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      // The server may be restarting: keep polling.
    }
    window.setTimeout(tick, 1500);
  };
  window.setTimeout(tick, 1000);
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
