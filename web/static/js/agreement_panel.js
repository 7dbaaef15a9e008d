// The agreement panel of the session room. The host's "show" sends the reserved signaling
// message "agreement.show"; session.js turns every such message into a
// "courtlink:agreement" event, and this script then loads the current version read-only
// (staff by their login, a party by the invite token of the page they joined through).
(function () {
  "use strict";
  var view = document.getElementById("agreement-view");
  if (!view) return;
  var isParty = !!view.dataset.party;
  var frame = document.getElementById("agreement-frame");
  var token = (location.pathname.split("/join/")[1] || "").split("/")[0];
  var agreementId = null;

  var mayRead = !!view.dataset.original;

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
