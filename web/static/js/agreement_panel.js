// The agreement panel of the session room. The host's "show" sends the reserved signaling
// message "agreement.show"; session.js turns every such message into a
// "courtlink:agreement" event, and this script then loads the current version read-only
// (staff by their login, a party by the invite token of the page they joined through).
// Shown to anyone but a host, the panel opens (data-open): on a phone a sheet over the
// videos, on a desktop a panel beside them (session.css, "ROOM-STATES"); the videos keep
// playing underneath, "back to the video" closes it and the room's notice offers it again.
// The document frame is as tall as its text, so the agreement reads in the page's own flow
// (no scroll box inside the page).
(function () {
  "use strict";
  var view = document.getElementById("agreement-view");
  if (!view) return;
  var isParty = !!view.dataset.party;
  var frame = document.getElementById("agreement-frame");
  var token = (location.pathname.split("/join/")[1] || "").split("/")[0];
  var agreementId = null;

  var mayRead = !!view.dataset.original;
  var panel = document.getElementById("agreement-panel");
  var room = document.getElementById("screen-room");
  var closeButton = document.getElementById("agreement-close");
  var reopen = document.getElementById("agreement-reopen");

  // The frame takes its document's height: the page scrolls, not a box inside it.
  function fit() {
    var doc = frame.contentDocument && frame.contentDocument.documentElement;
    if (!doc || frame.hidden) return;
    // The root element's own box is the text's height (scrollHeight would be at least the
    // frame's, so it could grow but never shrink when the panel gets wider).
    frame.style.height = Math.ceil(doc.getBoundingClientRect().height) + 2 + "px";
  }
  frame.addEventListener("load", function () {
    fit();
    var fonts = frame.contentDocument && frame.contentDocument.fonts;
    if (fonts) fonts.ready.then(fit);  // the court's fonts change the height once loaded
  });
  var width = window.innerWidth;
  window.addEventListener("resize", function () {
    if (window.innerWidth !== width) { width = window.innerWidth; fit(); }
  });

  function isHost() {
    var app = window.courtlink;
    return !!(app && app.state && app.state.you.role === "host");
  }

  function open() {
    panel.hidden = false;
    panel.dataset.open = "";
    room.dataset.agreement = "open";
    closeButton.hidden = false;
    reopen.hidden = true;
    // The sheet (phone) and the panel (desktop) start under the room's top bar, which stays.
    var top = document.getElementById("room-top");
    room.style.setProperty("--room-top-h", (top ? top.getBoundingClientRect().height : 0) + "px");
    room.scrollIntoView({ block: "start" });
    closeButton.focus({ preventScroll: true });
    requestAnimationFrame(fit);  // the panel's width changed: so did the text's height
  }

  function close() {
    delete panel.dataset.open;
    delete room.dataset.agreement;
    closeButton.hidden = true;
    if (isParty) panel.hidden = true;  // staff keep it in the side column, as before
    reopen.hidden = false;
    room.scrollIntoView({ block: "start" });
  }
  closeButton.addEventListener("click", close);
  reopen.addEventListener("click", open);

  function load(id) {
    if (!mayRead) return;  // the server refuses the original to this account anyway
    var src = isParty ? "/api/v1/invites/" + token + "/agreement/document"
                      : "/api/v1/agreements/" + id + "/document";
    frame.src = src + "?t=" + Date.now();  // a new show is a new version: never a stale copy
    frame.hidden = false;
    if (isParty) {
      var link = document.getElementById("agreement-sign-link");
      link.href = "/sign/" + token;
      link.hidden = false;
    }
  }

  document.addEventListener("courtlink:agreement", function (ev) {
    var by = document.getElementById("agreement-by");
    by.querySelector("span").textContent = ev.detail.by || "";
    by.hidden = false;
    load(ev.detail.agreement_id);
    if (!isHost()) open();
  });

  if (!isParty) {
    // Staff see the panel from the start, with the case's agreement if there is one.
    document.getElementById("agreement-panel").hidden = false;
    fetch("/api/v1/cases/" + view.dataset.caseId + "/agreement",
          { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (agreement) {
        if (!agreement) return;
        agreementId = agreement.id;
        load(agreementId);
        var button = document.getElementById("agreement-show");
        button.hidden = false;
        button.addEventListener("click", function () {
          if (window.courtlink && window.courtlink.signal) {
            window.courtlink.signal.send({ type: "agreement.show", agreement_id: agreementId });
          }
        });
      });
  }
})();
