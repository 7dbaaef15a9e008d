// A handwritten signature on a <canvas>: mouse, pen and touch through Pointer Events.
// CourtlinkSignature.attach(canvas, hint) -> {isEmpty(), clear(), toDataURL()}
// The canvas is drawn at the device's pixel ratio so a signature stays sharp on a tablet;
// touch-action:none keeps a finger from scrolling the page while signing. The "sign here"
// prompt is an element laid over the pad (never ink in the image): hidden at the first
// stroke, shown again when the pad is cleared.
(function () {
  "use strict";

  function attach(canvas, hint) {
    var ctx = canvas.getContext("2d");
    var ratio = Math.max(window.devicePixelRatio || 1, 1);
    var strokes = 0;
    var drawing = false;
    var last = null;

    function size() {
      var rect = canvas.getBoundingClientRect();
      canvas.width = Math.round(rect.width * ratio);
      canvas.height = Math.round(rect.height * ratio);
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      ctx.strokeStyle = "#111";
      strokes = 0;
      if (hint) hint.hidden = false;
    }

    function point(ev) {
      var rect = canvas.getBoundingClientRect();
      // A pen's pressure thickens the line; a mouse reports 0.5 while pressed.
      var pressure = ev.pressure && ev.pointerType === "pen" ? ev.pressure : 0.5;
      return { x: ev.clientX - rect.left, y: ev.clientY - rect.top, w: 1.5 + pressure * 3 };
    }

    canvas.style.touchAction = "none";
    canvas.addEventListener("pointerdown", function (ev) {
      if (ev.button !== undefined && ev.button > 0) return;
      drawing = true;
      if (hint) hint.hidden = true;
      last = point(ev);
      canvas.setPointerCapture(ev.pointerId);
      ctx.beginPath();
      ctx.arc(last.x, last.y, last.w / 2, 0, Math.PI * 2);
      ctx.fillStyle = "#111";
      ctx.fill();
      ev.preventDefault();
    });
    canvas.addEventListener("pointermove", function (ev) {
      if (!drawing) return;
      var events = ev.getCoalescedEvents ? ev.getCoalescedEvents() : [ev];
      if (!events.length) events = [ev];
      events.forEach(function (e) {
        var p = point(e);
        ctx.beginPath();
        ctx.lineWidth = p.w;
        ctx.moveTo(last.x, last.y);
        ctx.lineTo(p.x, p.y);
        ctx.stroke();
        last = p;
      });
      strokes += 1;
      ev.preventDefault();
    });
    function end(ev) {
      if (drawing) strokes += 1;
      drawing = false;
      last = null;
      if (ev && canvas.hasPointerCapture && canvas.hasPointerCapture(ev.pointerId)) {
        canvas.releasePointerCapture(ev.pointerId);
      }
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    size();
    // A phone turned, a window resized: fit the bitmap to the new box while nothing is drawn
    // (resizing clears it, so a signature in progress is left as it is).
    window.addEventListener("resize", function () {
      var rect = canvas.getBoundingClientRect();
      if (strokes === 0 && !drawing && Math.round(rect.width * ratio) !== canvas.width) size();
    });

    return {
      isEmpty: function () { return strokes < 2; },
      clear: function () {
        ctx.clearRect(0, 0, canvas.width, canvas.height);
        strokes = 0;
        if (hint) hint.hidden = false;
      },
      toDataURL: function () { return canvas.toDataURL("image/png"); },
    };
  }

  // Sign through the JSON API; the form names the endpoint and the version shown.
  function wire(form) {
    var canvas = form.querySelector("canvas.signature-pad");
    var pad = attach(canvas, form.querySelector(".signature-hint"));
    var status = form.querySelector("[data-status]");
    form.querySelector("[data-clear]").addEventListener("click", function () { pad.clear(); });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (pad.isEmpty()) { status.textContent = form.dataset.msgEmpty; return; }
      var body = {
        version_id: Number(form.dataset.versionId),
        content_hash: form.dataset.contentHash,
        typed_name: form.querySelector("[name=typed_name]").value,
        image_png: pad.toDataURL(),
      };
      if (form.dataset.partyId) body.party_id = Number(form.dataset.partyId);
      var headers = { "Content-Type": "application/json", "Accept": "application/json" };
      var meta = document.querySelector("meta[name=csrf-token]");
      if (meta) headers["X-CSRF-Token"] = meta.content;
      status.textContent = form.dataset.msgSending;
      fetch(form.dataset.endpoint, { method: "POST", headers: headers, body: JSON.stringify(body),
                                     credentials: "same-origin" })
        .then(function (resp) {
          return resp.json().then(function (data) { return { ok: resp.ok, data: data }; });
        })
        .then(function (r) {
          if (r.ok) {
            status.textContent = form.dataset.msgDone;
            form.classList.add("signed");
            form.querySelector("button[type=submit]").disabled = true;
            if (form.dataset.reload) {
              // The page comes back with the confirmation at its top: start there, not
              // where the pad was.
              if ("scrollRestoration" in history) history.scrollRestoration = "manual";
              window.location.reload();
            }
          } else {
            status.textContent = r.data.error ? r.data.error.message : form.dataset.msgFailed;
          }
        })
        .catch(function () { status.textContent = form.dataset.msgFailed; });
    });
  }

  // Browsers without declarative shadow DOM leave <template shadowrootmode> inert: attach
  // the agreement's text to its shadow root here, so it is shown all the same.
  document.querySelectorAll("template[shadowrootmode]").forEach(function (t) {
    var host = t.parentNode;
    if (!host.shadowRoot && host.attachShadow) {
      host.attachShadow({ mode: t.getAttribute("shadowrootmode") }).appendChild(t.content);
    }
    t.remove();
  });

  window.CourtlinkSignature = { attach: attach, wire: wire };
  document.querySelectorAll("form.signature-form").forEach(wire);
  // After signing: the confirmation (what happens next) in view and read out first.
  var done = document.getElementById("sign-done");
  if (done) {
    window.scrollTo(0, 0);
    done.focus({ preventScroll: true });
  }
})();
