// The session page: pre-join self-test -> lobby -> room, driven by the server's messages.
// Plain ES modules, no build step. This one is the pre-join (the self-test, a party's name,
// the note that joining returns to a kept place) and starts the page; room.js is the lobby
// and the room, session_page.js what both share.

import { mediaProblem } from "./media_problem.js";
import { SelfTest } from "./selftest.js";
import { formatRate, measureLink } from "./netprobe.js";
import { ResumeStore } from "./rejoin.js";
import { enterRoom, wireRoom } from "./room.js";
import { $, app, config, show, t } from "./session_page.js";

// --- pre-join ---------------------------------------------------------------------------

function renderSelfTest(test) {
  const cam = $("check-camera"), mic = $("check-mic"), result = $("selftest-result");
  cam.textContent = test.cameraOk ? "✓ " + t.camera_ok : "… " + t.camera_fail;
  mic.textContent = test.micOk ? "✓ " + t.mic_ok : "… " + (test.needsGesture ? t.mic_click : t.mic_fail);
  $("mic-start").hidden = !(test.needsGesture && !test.micOk);
  cam.className = test.cameraOk ? "ok" : "";
  mic.className = test.micOk ? "ok" : "";
  if (test.error) {
    result.textContent = mediaProblem(test.error, t);
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

/** The network check beside the devices': the rates measured, and the mode they suggest
 *  when it is lighter than the one chosen (a click applies it; nothing changes by itself). */
async function checkNetwork() {
  const line = $("check-network"), advice = $("net-advice"), apply = $("net-apply");
  line.textContent = "… " + t.net_testing;
  let link;
  try {
    link = await measureLink(config.probe);
  } catch (err) {
    line.textContent = "… " + t.net_failed;
    return;
  }
  app.network = link;
  const rates = t.net_result.replace("{down}", formatRate(link.down)).replace("{up}", formatRate(link.up));
  line.textContent = (link.mode === "full" ? "✓ " : "! ") + rates;
  line.className = link.mode === "full" ? "ok" : "";
  line.dataset.mode = link.mode;
  // Advice only where there is some to give: the first screen has the join button to keep.
  const order = ["full", "low", "audio"];
  if (order.indexOf(link.mode) <= order.indexOf(app.video.mode)) return;
  advice.hidden = false;
  advice.textContent = link.mode === "audio" ? t.net_suggest_audio : t.net_suggest_low;
  apply.textContent = link.mode === "audio" ? t.net_use_audio : t.net_use_low;
  apply.hidden = false;
  apply.onclick = () => {
    app.video.setMode(link.mode);
    $("video-mode").value = link.mode;
    apply.hidden = true;
    advice.textContent = t.net_applied;
  };
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
  enterRoom(name, app.test.stream, () => {
    show("screen-prejoin");
    $("join-button").disabled = false;
    prejoinError(t.name_mismatch);
  });
}

// --- start ------------------------------------------------------------------------------

wireRoom();
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
checkNetwork();
// Any click or key press lets a browser that waits for one start the level meter; the
// "start the microphone test" button is just the obvious place to click.
for (const type of ["pointerdown", "keydown"]) {
  document.addEventListener(type, () => app.test.resumeMeter(), { capture: true });
}
$("join-button").addEventListener("click", join);
show("screen-prejoin");
