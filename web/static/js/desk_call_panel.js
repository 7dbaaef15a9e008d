/* The room of a call from a street office (the duty desk): the resident's dispute typed in
   during the call becomes the call's intake case, or the call is joined to a case already
   on the docket (_desk_call_panel.html). Sent to the desk API with the page's CSRF token. */
(function () {
  "use strict";
  var panel = document.getElementById("desk-call-panel");
  if (!panel) return;
  var t = panel.dataset;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var result = document.getElementById("desk-call-result");

  function send(path, body, done) {
    fetch("/api/v1/desk/calls/" + panel.dataset.call + path, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (resp) {
      return resp.json().then(function (b) { return { ok: resp.ok, body: b }; });
    }).then(function (r) {
      result.hidden = false;
      result.textContent = "";
      if (!r.ok) {
        var err = r.body.error || {};
        result.textContent = t.tError + (err.message ? t.colon + err.message : "");
        return;
      }
      panel.querySelectorAll("form").forEach(function (f) { f.hidden = true; });
      var link = document.createElement("a");
      link.href = "/cases/" + r.body.case_id;
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = done;
      result.appendChild(link);
    });
  }

  var form = document.getElementById("desk-call-form");
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = form.elements;
      var body = {
        applicant: { name: f.applicant_name.value, phone: f.applicant_phone.value, id_number: f.applicant_id.value },
        cause: f.cause.value, facts: f.facts.value, claim_yuan: f.claim_yuan.value || "0",
        consent_to_mediate: f.consent.checked
      };
      if (f.respondent_name.value.trim()) body.respondent = { name: f.respondent_name.value };
      send("/case", body, t.tDone);
    });
  }
  var attach = document.getElementById("desk-attach-form");
  if (attach) {
    attach.addEventListener("submit", function (ev) {
      ev.preventDefault();
      send("/attach", { case_id: Number(attach.elements.case_id.value) }, t.tAttached);
    });
  }
})();
