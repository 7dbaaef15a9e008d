/* The duty desk's ringing on every page of the center (base.html): a socket to /ws/desk
   that reconnects by itself; a call ringing for this person shows a banner with a sound and
   a system notification, and "Answer" takes them into the call's session. The /desk page's
   list of ringing calls and its "called back" buttons are served here too. */
(function () {
  "use strict";
  var banner = document.getElementById("desk-ring");
  if (!banner) return;
  var t = banner.dataset;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var list = document.getElementById("desk-ringing");
  var empty = document.getElementById("desk-ringing-empty");
  var notified = {};
  var audio = null;
  var beeping = null;

  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.15;
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.4);
    } catch (e) { /* no sound device: the banner still shows */ }
  }

  function ring(on) {
    if (on && !beeping) { beep(); beeping = setInterval(beep, 2000); }
    if (!on && beeping) { clearInterval(beeping); beeping = null; }
  }

  function notify(call) {
    if (notified[call.id] || !("Notification" in window)) return;
    notified[call.id] = true;
    if (Notification.permission === "granted") {
      new Notification(t.tCalling + t.gap + call.office, { tag: "desk-" + call.id });
    }
  }

  function answer(id, button) {
    button.disabled = true;
    fetch("/api/v1/desk/calls/" + id + "/accept", {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf }
    }).then(function (resp) {
      return resp.json().then(function (body) { return { ok: resp.ok, body: body }; });
    }).then(function (r) {
      if (r.ok && r.body.session_id) {
        window.location.href = "/sessions/" + r.body.session_id + "/join";
      } else {
        button.textContent = t.tTaken;
      }
    }).catch(function () { button.disabled = false; });
  }

  function row(call, canAnswer) {
    var li = document.createElement("li");
    li.className = "desk-call-row";
    li.dataset.call = call.id;
    var text = document.createElement("span");
    text.textContent = t.tCalling + t.gap + call.office + (call.everyone ? t.tEveryone : "");
    li.appendChild(text);
    if (canAnswer) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "desk-answer";
      button.textContent = t.tAnswer;
      button.addEventListener("click", function () { answer(call.id, button); });
      li.appendChild(button);
    }
    return li;
  }

  function show(state) {
    var mine = state.ringing.filter(function (c) { return c.for_me; });
    banner.textContent = "";
    mine.forEach(function (c) { banner.appendChild(row(c, state.answer)); notify(c); });
    banner.hidden = mine.length === 0;
    ring(mine.length > 0);
    if (list) {
      list.textContent = "";
      state.ringing.forEach(function (c) { list.appendChild(row(c, state.answer)); });
      if (empty) empty.hidden = state.ringing.length > 0;
    }
  }

  var delay = 1000;
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/ws/desk");
    ws.onopen = function () { delay = 1000; };
    ws.onmessage = function (ev) {
      var msg = JSON.parse(ev.data);
      if (msg.type === "desk.state") show(msg);
    };
    ws.onclose = function () {
      ring(false);
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  }
  if ("Notification" in window && Notification.permission === "default") {
    document.addEventListener("click", function once() {
      Notification.requestPermission();
      document.removeEventListener("click", once);
    });
  }
  document.querySelectorAll("[data-called-back]").forEach(function (button) {
    button.addEventListener("click", function () {
      button.disabled = true;
      fetch("/api/v1/desk/calls/" + button.dataset.calledBack + "/called-back", {
        method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf }
      }).then(function () { window.location.reload(); });
    });
  });
  connect();
})();
