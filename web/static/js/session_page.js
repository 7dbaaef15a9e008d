// The session page's shared state: its config (socket URL, strings in the page's language,
// from the JSON block the server rendered into the page), the app object (window.courtlink,
// which support staff may read), which screen shows, and the page's toasts. The pre-join
// (session.js) and the room (room.js) both use it.

export const config = JSON.parse(document.getElementById("session-config").textContent);
export const t = config.strings;
export const $ = (id) => document.getElementById(id);
const screens = ["screen-prejoin", "screen-lobby", "screen-room", "screen-ended"];

export const app = { signal: null, media: null, state: null, welcome: null, gen: 0, test: null, names: {}, log: [] };
window.courtlink = app;

// A short history of connection events, for support staff reading window.courtlink.log.
export function note(...event) {
  app.log.push([Math.round(performance.now()), ...event]);
  if (app.log.length > 200) app.log.shift();
}

export function show(screen) {
  const entering = screen === "screen-room" && $("screen-room").hidden;
  for (const id of screens) $(id).hidden = id !== screen;
  // In the room the connection badge sits in the room's top bar, where it covers nothing.
  const badge = $("conn-state"), home = screen === "screen-room" ? $("conn-slot") : $("session-app");
  if (badge.parentElement !== home) home.append(badge);
  if (entering) {
    // Into the room: at the top of the page (the pre-join may have been scrolled down), the
    // grid sized to what the screen has left.
    window.scrollTo(0, 0);
    requestAnimationFrame(() => app.grid.layout());
  }
}

let toastTimer = 0;
export function toast(text, { action, label = "OK" } = {}) {
  const el = $("toast");
  el.replaceChildren(text);
  if (action) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.onclick = () => { action(); el.hidden = true; };
    el.append(" ", b);
  }
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 8000);
}

// Take back the toast if it still shows `text`, news no longer true (not a later toast).
export function dismissToast(text) {
  const el = $("toast");
  if (el.hidden || !el.firstChild || el.firstChild.textContent !== text) return;
  el.hidden = true;
  clearTimeout(toastTimer);
}
