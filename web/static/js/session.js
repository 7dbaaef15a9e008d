// The session page: pre-join self-test -> lobby -> room, driven by the server's messages.
// Plain ES module, no build step. Config (socket URL, strings in the page's language) comes
// from the JSON block the server rendered into the page.

import { Signal } from "./signal.js";
import { MediaLink, quality } from "./media.js";
import { SelfTest } from "./selftest.js";
import { renderHostPanel, roomLabel } from "./host.js";
import { RecordingControl } from "./recording.js";
import { ResumeStore } from "./rejoin.js";
import { Grid, PanelToggle, ask, cameraCount, chime, lobbyArrivals, otherCamera } from "./room_layout.js";
import { RoomStatus } from "./room_status.js";

const config = JSON.parse(document.getElementById("session-config").textContent);
const t = config.strings;
const $ = (id) => document.getElementById(id);
const screens = ["screen-prejoin", "screen-lobby", "screen-room", "screen-ended"];

const app = { signal: null, media: null, state: null, welcome: null, gen: 0, test: null, names: {}, log: [] };
window.courtlink = app;

// A short history of connection events, for support staff reading window.courtlink.log.
function note(...event) {
  app.log.push([Math.round(performance.now()), ...event]);
  if (app.log.length > 200) app.log.shift();
}

function show(screen) {
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

function setStatus(status) {
  note("status", status);
  const el = $("conn-state");
  el.dataset.state = status;
  el.textContent = { connecting: t.connecting, reconnecting: t.reconnecting, connected: t.connected }[status] || "";
  if (app.status) app.status.connection(status);
}

// --- pre-join ---------------------------------------------------------------------------

function renderSelfTest(test) {
  const cam = $("check-camera"), mic = $("check-mic"), result = $("selftest-result");
  cam.textContent = test.cameraOk ? "✓ " + t.camera_ok : "… " + t.camera_fail;
  mic.textContent = test.micOk ? "✓ " + t.mic_ok : "… " + (test.needsGesture ? t.mic_click : t.mic_fail);
  $("mic-start").hidden = !(test.needsGesture && !test.micOk);
  cam.className = test.cameraOk ? "ok" : "";
  mic.className = test.micOk ? "ok" : "";
  if (test.error) {
    result.textContent = t.no_devices + " (" + test.error + ")";
    result.dataset.result = "fail";
  } else if (test.passed) {
    result.textContent = t.test_pass;
    result.dataset.result = "pass";
  } else if (test.finished) {
    result.textContent = t.test_fail;
    result.dataset.result = "fail";
  } else {
    result.textContent = "";
    result.dataset.result = "pending";
  }
}

function prejoinError(text) {
  const el = $("prejoin-error");
  el.textContent = text;
  el.hidden = !text;
}

function join() {
  let name = null;
  if (config.party) {
    name = $("party-name").value.trim();
    if (!name) { prejoinError(t.name_needed); $("party-name").focus(); return; }
  }
  prejoinError("");
  $("join-button").disabled = true;
  app.test.stopMeter();
  const stream = app.test.stream;
  app.media = new MediaLink({ iceServers: [], onRemote: renderRemote, onState: onPeerState });
  if (stream) {
    app.media.setTrack("audio", stream.getAudioTracks()[0] || null);
    app.media.setTrack("camera", stream.getVideoTracks()[0] || null);
    $("self-video").srcObject = new MediaStream(stream.getVideoTracks());
  }
  app.signal = new Signal(config.ws, app.resumeStore);
  app.signal.addEventListener("status", (ev) => setStatus(ev.detail));
  app.signal.addEventListener("message", (ev) => onMessage(ev.detail));
  app.signal.addEventListener("final", (ev) => finish(ev.detail));
  app.signal.start(name);
}

// --- messages ---------------------------------------------------------------------------

function onMessage(msg) {
  switch (msg.type) {
    case "welcome":
      app.welcome = msg;
      app.gen++;
      app.media.iceServers = msg.ice_servers;
      app.media.reset();  // every connection gets a fresh peer connection
      break;
    case "offer": {
      const gen = app.gen;
      app.lastTracks = msg.tracks;
      app.media.handleOffer(msg.sdp, msg.tracks).then((sdp) => {
        if (sdp && gen === app.gen) app.signal.send({ type: "answer", sdp });
      });
      break;
    }
    case "state":
      app.state = msg;
      renderState(msg);
      break;
    case "error":
      if (msg.code === "name_mismatch") {
        app.signal.stop();
        show("screen-prejoin");
        $("join-button").disabled = false;
        prejoinError(t.name_mismatch);
      } else if (msg.code === "recording_stopped") {
        app.recording.alarm(msg.message);
      } else {
        toast(`${t.error}: ${msg.message}`);
      }
      break;
    case "mute_request":
      toast(t.mute_asked.replace("{name}", msg.by), { action: () => setAudio(false) });
      break;
    case "agreement.show":
      // Reserved for the agreements view: it listens for this event and fills the panel.
      $("agreement-panel").hidden = false;
      document.dispatchEvent(new CustomEvent("courtlink:agreement", { detail: msg }));
      break;
    case "recording":
      app.recording.onMessage(msg);
      app.status.setRecording(msg.active);
      document.dispatchEvent(new CustomEvent("courtlink:recording", { detail: msg }));
      break;
  }
}

function finish(reason) {
  show("screen-ended");
  $("ended-text").textContent = t[reason] || t.ended;
  app.status.finish(reason);
  setStatus("closed");
  if (app.media) app.media.reset();
  if (app.test) app.test.stop();
}

function hostNames(state) {
  return state.hosts.map((h) => h.name).filter(Boolean).join("、") || "—";
}

function renderState(state) {
  for (const p of state.people) app.names[p.pid] = p.name;
  app.status.update(state);  // the notice: where you are and what happens next
  const me = state.you;
  if (me.place === null) {
    show("screen-lobby");
    const present = state.hosts.some((h) => h.present);
    $("lobby-text").textContent = (present ? t.lobby_wait_host : t.lobby_host_absent).replace("{host}", hostNames(state));
    $("lobby-count").textContent = t.lobby_count.replace("{n}", state.lobby_count);
    return;
  }
  show("screen-room");
  $("room-name").textContent = roomLabel(me.place, t);
  $("room-name").dataset.place = me.place;
  const panel = $("host-panel");
  panel.hidden = me.role !== "host";
  $("end-button").hidden = me.role !== "host";
  app.recording.setPlace(me.role, me.place);
  $("panel-toggle").hidden = me.role !== "host";
  if (me.role === "host") {
    renderHostPanel(panel, state, t, (m) => app.signal.send(m), ask);
    announceArrivals(state);
  }
  for (const tile of document.querySelectorAll(".tile.remote")) labelTile(tile);
  requestAnimationFrame(() => app.grid.layout());  // the notice above the grid may have changed
}

// Someone new in the lobby: a chime, a toast naming them, and the count on the panel's toggle.
function announceArrivals(state) {
  const { waiting, fresh } = lobbyArrivals(state, app.lobbySeen);
  app.panel.count(waiting.length);
  if (!fresh.length) return;
  chime();
  const names = fresh.map((p) => p.name).join("、");
  const open = app.panel.open ? null : () => app.panel.set(true);
  toast(t.lobby_arrived.replace("{name}", names), open ? { action: open, label: t.show_panel } : {});
}

// --- tiles ------------------------------------------------------------------------------

function labelTile(tile) {
  const pid = tile.dataset.pid;
  const person = app.state && app.state.people.find((p) => p.pid === pid);
  let label = app.names[pid] || "";
  if (tile.dataset.source === "screen") label += ` · ${t.screen}`;
  if (person && !person.audio) label += ` · ${t.muted}`;
  tile.querySelector(".label").textContent = label;
}

function renderRemote(byPid) {
  const tiles = $("tiles");
  const wanted = new Set();
  for (const [pid, tracks] of Object.entries(byPid)) {
    const groups = [["camera", [tracks.camera, tracks.audio]], ["screen", [tracks.screen]]];
    for (const [source, list] of groups) {
      const live = list.filter(Boolean);
      if (!live.length || (source === "camera" && !tracks.camera && !tracks.audio)) continue;
      const key = `${pid}:${source}`;
      wanted.add(key);
      let tile = tiles.querySelector(`[data-key="${key}"]`);
      if (!tile) {
        tile = document.createElement("figure");
        tile.className = "tile remote";
        Object.assign(tile.dataset, { key, pid, source });
        const video = document.createElement("video");
        video.autoplay = true;
        video.playsInline = true;
        video.className = "remote";
        video.dataset.pid = pid;
        video.dataset.source = source;
        const cap = document.createElement("figcaption");
        cap.className = "label";
        tile.append(video, cap);
        tiles.append(tile);
      }
      const video = tile.querySelector("video");
      const current = video.srcObject ? video.srcObject.getTracks() : [];
      if (current.length !== live.length || live.some((tr) => !current.includes(tr))) {
        video.srcObject = new MediaStream(live);
        video.play().catch(() => {});
      }
      labelTile(tile);
    }
  }
  for (const tile of tiles.querySelectorAll(".tile.remote")) {
    if (!wanted.has(tile.dataset.key)) tile.remove();
  }
}

function onPeerState(state, detail) {
  note("peer", state, detail || "");
  if (state === "failed" && app.signal && !app.signal.final) app.signal.drop();  // resume afresh
}

// --- toggles ----------------------------------------------------------------------------

function announce() {
  const s = app.test && app.test.stream;
  const a = s && s.getAudioTracks()[0], v = s && s.getVideoTracks()[0];
  app.signal.send({ type: "media", audio: !!(a && a.enabled), video: !!(v && v.enabled), screen: !!app.media.local.screen });
}

function setAudio(on) {
  const a = app.test.stream && app.test.stream.getAudioTracks()[0];
  if (a) a.enabled = on;
  $("mute-button").setAttribute("aria-pressed", String(!on));
  announce();
}

function setCamera(on) {
  const v = app.test.stream && app.test.stream.getVideoTracks()[0];
  if (v) v.enabled = on;
  $("camera-button").setAttribute("aria-pressed", String(!on));
  announce();
}

async function flipCamera() {
  const stream = app.test.stream;
  if (!stream) return;
  const old = stream.getVideoTracks()[0];
  const enabled = old ? old.enabled : true;
  $("flip-button").disabled = true;
  try {
    const next = await otherCamera(old);
    next.enabled = enabled;
    if (old) stream.removeTrack(old);
    stream.addTrack(next);
    $("self-video").srcObject = new MediaStream([next]);
    // The back camera is not mirrored: text held up to it should read the right way round.
    $("self-video").closest(".tile").dataset.facing = next.getSettings().facingMode || "user";
    await app.media.setTrack("camera", next);
  } catch (err) {
    toast(`${t.error}: ${err.message || err}`);
  } finally {
    $("flip-button").disabled = false;
  }
}

async function toggleScreen() {
  let next = null;
  if (app.media.local.screen) {
    app.media.local.screen.stop();
  } else {
    let display;
    try { display = await navigator.mediaDevices.getDisplayMedia({ video: true }); } catch { return; }
    next = display.getVideoTracks()[0];
    // Stopped from the browser's own "stop sharing" bar: the same as pressing the button.
    next.addEventListener("ended", () => { if (app.media.local.screen === next) toggleScreen(); });
  }
  // Say so before the track changes: the server starts the share on the packets that follow
  // (and drops what a stopped share still sends).
  const replaced = app.media.setTrack("screen", next);
  $("screen-button").setAttribute("aria-pressed", String(!!next));
  announce();
  await replaced;
}

let toastTimer = 0;
function toast(text, { action, label = "OK" } = {}) {
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

async function updateQuality() {
  if (!app.media || !app.media.pc) return;
  const q = quality(await app.media.loss());
  const el = $("quality");
  if (!q) return;
  el.dataset.quality = q;
  el.textContent = t[`quality_${q}`];
}

// --- start ------------------------------------------------------------------------------

app.recording = new RecordingControl(config.recording, t, toast, ask);
app.grid = new Grid($("tiles"), $("control-bar"));
app.panel = new PanelToggle($("screen-room"), $("panel-toggle"), $("panel-badge"));
app.lobbySeen = new Set();
app.status = new RoomStatus(t, { party: config.party });
// This link's place, kept by a tab closed (or reloaded) a moment ago: the page says joining
// now returns to it, and a party's name is filled in as they typed it.
app.resumeStore = new ResumeStore(config.resume_key);
const kept = app.resumeStore.load();
if (kept) {
  $("rejoin-note").hidden = false;
  if (config.party && kept.name) $("party-name").value = kept.name;
}
app.test = new SelfTest({
  video: $("preview"),
  meter: $("mic-level"),
  cameraSelect: $("camera-select"),
  micSelect: $("mic-select"),
  onChange: renderSelfTest,
});
app.test.start();
// Any click or key press lets a browser that waits for one start the level meter; the
// "start the microphone test" button is just the obvious place to click.
for (const type of ["pointerdown", "keydown"]) {
  document.addEventListener(type, () => app.test.resumeMeter(), { capture: true });
}
$("join-button").addEventListener("click", join);
$("mute-button").addEventListener("click", () => {
  const a = app.test.stream && app.test.stream.getAudioTracks()[0];
  setAudio(!(a && a.enabled));
});
$("camera-button").addEventListener("click", () => {
  const v = app.test.stream && app.test.stream.getVideoTracks()[0];
  setCamera(!(v && v.enabled));
});
$("screen-button").addEventListener("click", toggleScreen);
$("leave-button").addEventListener("click", () => app.signal.send({ type: "leave" }));
$("end-button").addEventListener("click", async () => {
  if (await ask(t.confirm_end, t.end_session)) app.signal.send({ type: "end" });
});
$("flip-button").addEventListener("click", flipCamera);
// Phones' browsers cannot share a screen: no button that cannot work.
$("screen-button").hidden = !(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
// The camera switch is for a device with more than one camera (a phone's front and back).
cameraCount().then((n) => { $("flip-button").hidden = n < 2; });
// Who is speaking, from the receivers' audio levels: their tile is drawn larger.
setInterval(async () => {
  if (app.media && !$("screen-room").hidden) app.grid.levels(await app.media.audioLevels());
}, 400);
setInterval(updateQuality, 2000);
show("screen-prejoin");
