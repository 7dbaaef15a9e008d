// The room's layout and the pieces of it that are not the call itself (issue 14 item 2, 5):
// the video grid sized to the screen (a screen share largest, the person speaking larger),
// the host panel's toggle (a side panel on a desktop, a bottom sheet on a phone) with the
// lobby count, the chime for someone arriving, the in-page confirmation for what cannot be
// undone, and the front/back camera switch.

const $ = (id) => document.getElementById(id);
const PHONE = window.matchMedia("(max-width: 900px)");
const SPEAKING = 0.05;     // audioLevel (0..1) above which someone counts as speaking
const SPEAKER_TICKS = 3;   // polls (of 400 ms) a new voice must lead before the layout moves

// --- confirmation ---------------------------------------------------------------------------

// Asks in the page (a <dialog>), not with window.confirm(): a native prompt stops the page's
// script, so offers and roster updates wait while the host reads it; and on a phone it shows
// the site's address as its title. Resolves true for yes.
export function ask(text, yesLabel) {
  const dialog = $("confirm-dialog");
  $("confirm-text").textContent = text;
  $("confirm-yes").textContent = yesLabel;
  return new Promise((resolve) => {
    const done = (answer) => {
      dialog.removeEventListener("close", onClose);
      dialog.onclick = null;
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const onClose = () => done(false);  // Esc
    dialog.addEventListener("close", onClose);
    dialog.onclick = (ev) => {
      const b = ev.target.closest("button[data-answer]");
      if (b) done(b.dataset.answer === "yes");
    };
    dialog.showModal();
    $("confirm-no").focus();  // the safe answer is the default
  });
}

// --- lobby arrivals -------------------------------------------------------------------------

let audioCtx = null;

/** A short two-note chime, generated (no sound file): someone is waiting in the lobby. */
export function chime() {
  try {
    audioCtx ||= new AudioContext();
    if (audioCtx.state === "suspended") audioCtx.resume();
    const now = audioCtx.currentTime;
    for (const [i, freq] of [[0, 660], [1, 880]]) {
      const osc = audioCtx.createOscillator(), gain = audioCtx.createGain();
      osc.frequency.value = freq;
      const start = now + i * 0.18;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.25, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.3);
      osc.connect(gain).connect(audioCtx.destination);
      osc.start(start);
      osc.stop(start + 0.32);
    }
  } catch (err) {
    console.warn("chime", err);
  }
}

/** Who in the roster is new in the lobby since the last call (remembered in ``seen``). */
export function lobbyArrivals(state, seen) {
  const waiting = state.people.filter((p) => p.place === null && p.pid !== state.you.pid);
  const fresh = waiting.filter((p) => !seen.has(p.pid));
  seen.clear();
  for (const p of waiting) seen.add(p.pid);
  return { waiting, fresh };
}

// --- the host panel: side panel or sheet ----------------------------------------------------

export class PanelToggle {
  constructor(room, button, badge) {
    Object.assign(this, { room, button, badge });
    this.open = !PHONE.matches;  // beside the videos on a desktop; a closed sheet on a phone
    button.addEventListener("click", () => this.set(!this.open));
    this.set(this.open);
  }

  set(open) {
    this.open = open;
    this.room.dataset.panel = open ? "open" : "closed";
    this.button.setAttribute("aria-expanded", String(open));
    window.dispatchEvent(new Event("resize"));  // the grid's room changed
  }

  count(n) {
    this.badge.textContent = n ? String(n) : "";
    this.badge.hidden = !n;
  }
}

// --- the grid ----------------------------------------------------------------------------------

export class Grid {
  constructor(tiles, bar) {
    Object.assign(this, { tiles, bar });
    this.speaker = null;      // the tile key of the person speaking, once settled
    this.candidate = null;
    this.ticks = 0;
    const relayout = () => this.layout();
    window.addEventListener("resize", relayout);
    new MutationObserver(relayout).observe(tiles, { childList: true });
    if (window.ResizeObserver) new ResizeObserver(relayout).observe(tiles.parentElement);
  }

  /** Polled with {trackId: level}: the loudest remote voice, once it leads for a moment. */
  levels(byTrack) {
    let loudest = null, top = SPEAKING;
    for (const tile of this.tiles.querySelectorAll(".tile.remote[data-source=camera]")) {
      const stream = tile.querySelector("video").srcObject;
      const track = stream && stream.getAudioTracks()[0];
      const level = (track && byTrack[track.id]) || 0;
      tile.classList.toggle("speaking", level > SPEAKING);
      if (level > top) { top = level; loudest = tile.dataset.key; }
    }
    if (!loudest || loudest === this.speaker) { this.candidate = null; return; }
    if (loudest !== this.candidate) { this.candidate = loudest; this.ticks = 0; }
    if (++this.ticks >= SPEAKER_TICKS) {
      this.speaker = loudest;
      this.candidate = null;
      this.layout();
    }
  }

  layout() {
    const tiles = [...this.tiles.children].filter((el) => el.classList.contains("tile"));
    if (!tiles.length || this.tiles.offsetParent === null) return;
    // The grid fills what the screen has left under it, above the fixed control bar.
    const top = this.tiles.getBoundingClientRect().top + window.scrollY;
    const barH = this.bar.getBoundingClientRect().height;
    document.documentElement.style.setProperty("--bar-h", `${barH}px`);
    const height = Math.max(180, window.innerHeight - top - barH - 8);
    this.tiles.style.height = `${height}px`;
    const width = this.tiles.clientWidth;
    const screen = tiles.find((el) => el.dataset.source === "screen");
    const remotes = tiles.filter((el) => el.classList.contains("remote"));
    let featured = screen || null;
    if (!featured && tiles.length >= 3) {
      featured = remotes.find((el) => el.dataset.key === this.speaker) || remotes[0] || null;
    }
    for (const el of tiles) {
      el.classList.toggle("featured", el === featured);
      el.style.gridArea = "";
    }
    const style = this.tiles.style;
    if (featured) {
      const others = tiles.filter((el) => el !== featured);
      const landscape = width >= height;
      this.tiles.dataset.layout = "focus";
      if (landscape) {  // the featured tile on the left, the others in a column beside it
        style.gridTemplateColumns = "minmax(0, 3fr) minmax(0, 1fr)";
        style.gridTemplateRows = `repeat(${others.length}, minmax(0, 1fr))`;
        featured.style.gridArea = `1 / 1 / ${others.length + 1} / 2`;
        others.forEach((el, i) => { el.style.gridArea = `${i + 1} / 2 / ${i + 2} / 3`; });
      } else {  // on a phone: on top, the others in a row under it
        style.gridTemplateColumns = `repeat(${others.length}, minmax(0, 1fr))`;
        style.gridTemplateRows = "minmax(0, 2fr) minmax(0, 1fr)";
        featured.style.gridArea = `1 / 1 / 2 / ${others.length + 1}`;
        others.forEach((el, i) => { el.style.gridArea = `2 / ${i + 1} / 3 / ${i + 2}`; });
      }
      return;
    }
    // Equal tiles: the number of columns that gives each 16:9 picture the most room.
    this.tiles.dataset.layout = "grid";
    let best = 1, bestSize = 0;
    for (let cols = 1; cols <= tiles.length; cols++) {
      const rows = Math.ceil(tiles.length / cols);
      const cellW = width / cols, cellH = height / rows;
      const size = Math.min(cellW, (cellH * 16) / 9);
      if (size > bestSize) { bestSize = size; best = cols; }
    }
    style.gridTemplateColumns = `repeat(${best}, minmax(0, 1fr))`;
    style.gridTemplateRows = `repeat(${Math.ceil(tiles.length / best)}, minmax(0, 1fr))`;
  }
}

// --- front / back camera ------------------------------------------------------------------------

/** How many cameras the device has (labels are not needed, so this works before a grant). */
export async function cameraCount() {
  try {
    const devices = await navigator.mediaDevices.enumerateDevices();
    return devices.filter((d) => d.kind === "videoinput").length;
  } catch {
    return 0;
  }
}

/** Opens the other camera (the other facingMode on a phone, the next camera elsewhere) and
 *  returns its track; the old one is stopped first, as a phone opens one camera at a time. */
export async function otherCamera(old) {
  const settings = old ? old.getSettings() : {};
  let wanted;
  if (settings.facingMode) {
    wanted = { facingMode: { exact: settings.facingMode === "environment" ? "user" : "environment" } };
  } else {
    const cams = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput");
    const i = cams.findIndex((d) => d.deviceId === settings.deviceId);
    wanted = { deviceId: { exact: cams[(i + 1) % cams.length].deviceId } };
  }
  if (old) old.stop();
  try {
    return (await navigator.mediaDevices.getUserMedia({ video: wanted })).getVideoTracks()[0];
  } catch (err) {
    // The other camera would not open: back to the one we had.
    console.warn("switching camera", err);
    const back = settings.deviceId ? { deviceId: { exact: settings.deviceId } } : true;
    return (await navigator.mediaDevices.getUserMedia({ video: back })).getVideoTracks()[0];
  }
}
