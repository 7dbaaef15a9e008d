// The recordings section of the case page: the case's session recordings, listed from
// the API (the section's data attributes carry the translated labels).
(async () => {
  const box = document.getElementById("recordings");
  const list = document.getElementById("recordings-list");
  const resp = await fetch(box.dataset.api, {headers: {Accept: "application/json"}});
  const rows = resp.ok ? await resp.json() : [];
  list.textContent = "";
  if (!rows.length) { const li = document.createElement("li"); li.className = "muted"; li.textContent = box.dataset.none; list.append(li); }
  for (const r of rows) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = r.page; a.textContent = `${box.dataset.session} #${r.session_id}`;
    const secs = Math.round(r.duration_ms / 1000);
    const dur = `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, "0")}`;
    li.append(a, ` · ${dur} · ${r.segments} ${box.dataset.files} · ${r.participants.join(", ")}`
      + (r.interrupted ? ` · ${box.dataset.interrupted}` : "")
      + (r.composite_status === "done" ? ` · ${box.dataset.ready}` : ""));
    list.append(li);
  }
})();
