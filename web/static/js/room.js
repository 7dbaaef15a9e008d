// The session page's lobby and room: the connection to the server (signal.js) and the media
// (media.js), driven by the server's messages; the roster, the remote tiles, the controls.
// session.js (the pre-join) calls enterRoom once the participant joins.

import { Signal } from "./signal.js";
import { MediaLink, quality } from "./media.js";
import { personLabel, renderHostPanel, roomLabel } from "./host.js";
import { RecordingControl } from "./recording.js";
import { Grid, PanelToggle, ask, cameraCount, chime, lobbyArrivals, otherCamera } from "./room_layout.js";
import { mediaProblem } from "./media_problem.js";
import { RoomStatus } from "./room_status.js";
import { VideoView } from "./room_video.js";
import { $, app, config, dismissToast, note, show, t, toast } from "./session_page.js";

// What to do when the server refuses the name typed at the pre-join (enterRoom's caller says).
let nameRefused = () => {};

function setStatus(status) {
  note("status", status);
  const el = $("conn-state");
  el.dataset.state = status;
  el.textContent = { connecting: t.connecting, reconnecting: t.reconnecting, connected: t.connected }[status] || "";
  if (app.status) app.status.connection(status);
}

// Connect: a fresh media link with the pre-join's tracks, then the signaling socket.
export function enterRoom(name, stream, onNameRefused) {
  nameRefused = onNameRefused;
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
      app.media.setMode(app.video.mode);
      app.video.reset();
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
        nameRefused();
      } else if (msg.code === "recording_stopped") {
        app.recording.alarm(msg.message);
      } else {
        // Worded by its code in the reader's language; the message is the log's English.
        toast(t.error.replace("{why}", t["err_" + msg.code] || t.err_protocol));
      }
      break;
    case "mute_request":
      toast(t.mute_asked.replace("{name}", msg.by), { action: () => setAudio(false) });
      break;
    case "agreement.show":
      // A guest of joint mediation's link opens no agreement: they follow it on the screen.
      if (config.guest) break;
      // Reserved for the agreements view: it listens for this event and fills the panel.
      $("agreement-panel").hidden = false;
      document.dispatchEvent(new CustomEvent("courtlink:agreement", { detail: msg }));
      break;
    case "document.show":
      // The case file's panel (documents_panel.js) shows it.
      document.dispatchEvent(new CustomEvent("courtlink:document", { detail: msg }));
      break;
    case "video.paused":
      app.video.onPaused(msg.pids);
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
  for (const p of state.people) app.names[p.pid] = personLabel(p, t);
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
// Once none of those it names still waits (let in, turned away, gone), the toast goes too: a
// host who has just let someone in should not read that they are waiting.
function announceArrivals(state) {
  const { waiting, fresh } = lobbyArrivals(state, app.lobbySeen);
  app.panel.count(waiting.length);
  const shown = app.lobbyToast;
  if (shown && !waiting.some((p) => shown.pids.includes(p.pid))) {
    dismissToast(shown.text);
    app.lobbyToast = null;
  }
  if (!fresh.length) return;
  chime();
  const text = t.lobby_arrived.replace("{name}", fresh.map((p) => p.name).join("、"));
  const open = app.panel.open ? null : () => app.panel.set(true);
  toast(text, open ? { action: open, label: t.show_panel } : {});
  app.lobbyToast = { text, pids: fresh.map((p) => p.pid) };
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
  if (app.video) app.video.mark();
}

function onPeerState(state, detail) {
  note("peer", state, detail || "");
  if (state === "failed" && app.signal && !app.signal.final) app.signal.drop();  // resume afresh
}

// --- toggles ----------------------------------------------------------------------------

function announce() {
  if (!app.signal || !app.media) return;  // before joining (a mode chosen at the pre-join)
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
    toast(t.error.replace("{why}", mediaProblem(err, t)));
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

async function updateQuality() {
  if (!app.media || !app.media.pc) return;
  const q = quality(await app.media.loss());
  const el = $("quality");
  if (!q) return;
  el.dataset.quality = q;
  el.textContent = t[`quality_${q}`];
}

// --- wiring -----------------------------------------------------------------------------

// The room's parts and controls, ready before anyone joins.
export function wireRoom() {
  app.recording = new RecordingControl(config.recording, t, toast, ask);
  app.grid = new Grid($("tiles"), $("control-bar"));
  app.panel = new PanelToggle($("screen-room"), $("panel-toggle"), $("panel-badge"));
  app.lobbySeen = new Set();
  app.status = new RoomStatus(t, { party: config.party });
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
  app.video = new VideoView({
    send: (m) => app.signal && app.signal.send(m),
    media: { setMode: (m) => (app.media ? app.media.setMode(m) : null) },
    setCamera,
  });
  // Tile sizes change with the layout (who speaks, a phone turned): the server hears of it.
  setInterval(() => { if (app.signal && !$("screen-room").hidden) app.video.report(); }, 1000);
}
