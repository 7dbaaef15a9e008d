// The recordings page of a session: play a file in the page's player, and follow the
// composite's progress until it is done (then reload to show the finished file).
(() => {
  const player = document.getElementById("player");
  document.querySelectorAll("button.play").forEach((b) => b.addEventListener("click", () => {
    player.hidden = false; player.src = b.dataset.src; player.play();
  }));
  const box = document.getElementById("composite");
  const bar = document.getElementById("composite-progress");
  const pct = document.getElementById("composite-percent");
  const label = document.getElementById("composite-status");
  async function poll() {
    const resp = await fetch(box.dataset.api, {headers: {Accept: "application/json"}});
    if (!resp.ok) return;
    const rec = await resp.json();
    bar.value = rec.composite_progress;
    pct.textContent = Math.round(rec.composite_progress * 100) + "%";
    label.textContent = box.dataset[rec.composite_status] || rec.composite_status;
    if (rec.composite_status === "queued" || rec.composite_status === "running") {
      setTimeout(poll, 1000);
    } else if (rec.composite_status !== box.dataset.status) {
      location.reload();
    }
  }
  if (box.dataset.status === "queued" || box.dataset.status === "running") setTimeout(poll, 1000);
})();
