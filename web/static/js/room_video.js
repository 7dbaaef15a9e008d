// The video this participant receives, told to the server (the "view" message): how tall each
// camera's tile is, so that the server sends each the simulcast layer it needs (a small tile
// never gets 720p), and the mode chosen in the control bar: standard, data saver (the lowest
// layer of every camera, and only the lowest layer sent) or audio only (no camera either
// way). The server's "video.paused" names the cameras the link cannot carry now: their tiles
// say so until the picture comes back by itself.

import { $, t } from "./session_page.js";

const MODE_KEY = "courtlink.video_mode";
// Heights are sent by the layer they need (180p, 360p, 720p and above), so a tile that grows
// a little as someone speaks does not send a message each time.
const BUCKETS = [180, 360];
const STEADY_MS = 3000;

function bucket(px) {
  for (const b of BUCKETS) if (px <= b) return b;
  return Math.min(Math.round(px), 10000);
}

export class VideoView {
  constructor({ send, media, setCamera }) {
    Object.assign(this, { send, media, setCamera });
    let saved = null;
    try { saved = localStorage.getItem(MODE_KEY); } catch { /* storage off: standard */ }
    this.mode = ["full", "low", "audio"].includes(saved) ? saved : "full";
    this.last = "";
    this.pending = null;
    this.paused = new Set();
    const select = $("video-mode");
    select.value = this.mode;
    select.addEventListener("change", () => this.setMode(select.value));
  }

  /** A new connection: tell the server again, whatever was said before. */
  reset() {
    this.last = "";
    this.pending = null;
    this.paused = new Set();
    this.mark();
  }

  heights() {
    const out = {};
    const ratio = window.devicePixelRatio || 1;
    for (const tile of document.querySelectorAll(".tile.remote[data-source=camera]")) {
      out[tile.dataset.pid] = bucket(tile.getBoundingClientRect().height * ratio);
    }
    return out;
  }

  /** Send the view if it changed and has held for STEADY_MS (called every second while in
   *  a room): a tile that grows and shrinks as people take turns to speak would otherwise
   *  switch layers, each switch a keyframe from the camera, every few seconds. A mode
   *  chosen, and a new connection, are told at once. */
  report(now = false) {
    const msg = { type: "view", heights: this.heights(), mode: this.mode };
    const key = JSON.stringify(msg);
    if (key === this.last) { this.pending = null; return; }
    const at = Date.now();
    if (!now && this.last && (!this.pending || this.pending.key !== key)) {
      this.pending = { key, at };
      return;
    }
    if (!now && this.last && at - this.pending.at < STEADY_MS) return;
    this.last = key;
    this.pending = null;
    this.send(msg);
  }

  setMode(mode) {
    const was = this.mode;
    this.mode = mode;
    try { localStorage.setItem(MODE_KEY, mode); } catch { /* kept for this page only */ }
    this.media.setMode(mode);
    if (mode === "audio" || was === "audio") this.setCamera(mode !== "audio");
    this.report();
    this.mark();
  }

  onPaused(pids) {
    this.paused = new Set(pids);
    this.mark();
  }

  /** Each remote camera's tile: paused or not, and why, in words over the picture. */
  mark() {
    for (const tile of document.querySelectorAll(".tile.remote[data-source=camera]")) {
      const why = !this.paused.has(tile.dataset.pid) ? "" : this.mode === "audio" ? "audio" : "network";
      if ((tile.dataset.paused || "") === why) continue;
      tile.dataset.paused = why;
      let note = tile.querySelector(".paused-note");
      if (!why) { if (note) note.remove(); continue; }
      if (!note) {
        note = document.createElement("p");
        note.className = "paused-note";
        note.setAttribute("role", "status");
        tile.append(note);
      }
      note.textContent = why === "audio" ? t.video_audio_only : t.video_paused;
    }
  }
}
