/* A street office's terminal (desk_terminal.html): one big button that calls the center, the
   place in the queue while it rings, and the session once someone answers. The socket to
   /ws/desk reconnects by itself, so the page can stay open all day; the call itself lives on
   the server, so a reload or a lost connection does not lose it. */
(function () {
  "use strict";
  var root = document.getElementById("desk-terminal");
  if (!root) return;
  var t = root.dataset;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var button = document.getElementById("desk-call");
  var status = document.getElementById("desk-status");
  var waited = document.getElementById("desk-waited");
  var hangUp = document.getElementById("desk-hang-up");
  var form = document.getElementById("desk-callback");
  var call = null;
  var sent = false;

  function post(path, body) {
    return fetch("/api/v1/desk/calls" + path, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (resp) {
      return resp.json().then(function (b) {
        if (!resp.ok) throw new Error((b.error && b.error.message) || resp.status);
        return b;
      });
    });
  }

  function fail(err) { status.textContent = t.tError + t.colon + err.message; }

  function tick() {
    if (!call || call.status !== "ringing") { waited.hidden = true; return; }
    var s = Math.max(0, Math.round((Date.now() - Date.parse(call.called_at)) / 1000));
    waited.hidden = false;
    waited.textContent = Math.floor(s / 60) + ":" + ("0" + (s % 60)).slice(-2);
  }
  setInterval(tick, 1000);

  function show(state) {
    call = state.call;
    var st = call ? call.status : null;
    button.hidden = st === "ringing" || st === "answered";
    hangUp.hidden = st !== "ringing";
    form.hidden = sent || !(st === "ringing" || ((st === "missed" || st === "cancelled") && !call.callback_requested));
    if (st === "ringing") status.textContent = t.tRinging + t.gap + t.tPosition + t.colon + call.position;
    else if (st === "answered") {
      status.textContent = t.tAnswered;
      window.location.href = "/sessions/" + call.session_id + "/join";
    } else if (st === "missed") status.textContent = t.tMissed;
    else if (st === "cancelled") status.textContent = call.callback_requested ? t.tSent : t.tCancelled;
    else status.textContent = "";
    tick();
  }

  button.addEventListener("click", function () {
    sent = false;
    post("").then(function (c) { show({ call: { id: c.id, status: c.status, called_at: c.called_at, position: c.queue_position, session_id: c.session_id } }); }).catch(fail);
  });
  hangUp.addEventListener("click", function () { if (call) post("/" + call.id + "/hang-up").catch(fail); });
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!call) return;
    post("/" + call.id + "/callback", { phone: form.phone.value, note: form.note.value })
      .then(function () { sent = true; form.hidden = true; status.textContent = t.tSent; })
      .catch(fail);
  });

  var delay = 1000;
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/ws/desk");
    ws.onopen = function () { delay = 1000; if (status.textContent === t.tOffline) status.textContent = ""; };
    ws.onmessage = function (ev) {
      var msg = JSON.parse(ev.data);
      if (msg.type === "desk.state") show(msg);
    };
    ws.onclose = function () {
      status.textContent = t.tOffline;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  }
  connect();
})();
