// The mediator's terms editor: obligations and clauses on the left, the document preview on
// the right, refreshed as they type; "Save" makes a new version through the JSON API.
(function () {
  "use strict";
  var root = document.getElementById("editor");
  if (!root) return;
  var caseId = root.dataset.caseId;
  var agreementId = root.dataset.agreementId;
  var list = document.getElementById("obligations");
  var rowTemplate = document.getElementById("obligation-row");
  var status = document.getElementById("save-status");
  var frame = document.getElementById("preview");
  var meta = document.querySelector("meta[name=csrf-token]");

  function headers() {
    var h = { "Content-Type": "application/json", "Accept": "application/json" };
    if (meta) h["X-CSRF-Token"] = meta.content;
    return h;
  }

  // "50000" or "50000.5" yuan -> whole fen, by string arithmetic (no float rounding).
  function toFen(text) {
    var m = /^\s*(\d{1,13})(?:\.(\d{1,2}))?\s*$/.exec(text || "");
    if (!m) return null;
    return Number(m[1]) * 100 + Number(((m[2] || "") + "00").slice(0, 2));
  }
  function toYuan(fen) {
    if (fen === null || fen === undefined) return "";
    var s = String(fen).padStart(3, "0");
    return s.slice(0, -2) + "." + s.slice(-2);
  }

  function addRow(o) {
    var node = rowTemplate.content.firstElementChild.cloneNode(true);
    if (o) {
      node.querySelector("[name=obligor]").value = o.obligor_party_id;
      node.querySelector("[name=obligee]").value = o.obligee_party_id;
      node.querySelector("[name=action]").value = o.action;
      node.querySelector("[name=description]").value = o.description || "";
      node.querySelector("[name=amount]").value = toYuan(o.amount_fen);
      node.querySelector("[name=due_date]").value = o.due_date;
      node.querySelector("[name=method]").value = o.method;
    } else {
      var sel = node.querySelector("[name=obligee]");
      if (sel.options.length > 1) sel.selectedIndex = 0;
      node.querySelector("[name=obligor]").selectedIndex = sel.options.length - 1;
    }
    node.querySelector(".remove").addEventListener("click", function () {
      node.remove();
      schedule();
    });
    node.addEventListener("input", schedule);
    node.addEventListener("change", schedule);
    list.appendChild(node);
  }

  function terms() {
    var obligations = [];
    list.querySelectorAll(".obligation").forEach(function (node) {
      var action = node.querySelector("[name=action]").value;
      obligations.push({
        obligor_party_id: Number(node.querySelector("[name=obligor]").value),
        obligee_party_id: Number(node.querySelector("[name=obligee]").value),
        action: action,
        description: node.querySelector("[name=description]").value,
        amount_fen: action === "pay" ? toFen(node.querySelector("[name=amount]").value) : null,
        due_date: node.querySelector("[name=due_date]").value,
        method: node.querySelector("[name=method]").value,
      });
    });
    var clauses = document.getElementById("clauses").value.split("\n")
      .map(function (c) { return c.trim(); }).filter(function (c) { return c; });
    return { obligations: obligations, clauses: clauses };
  }

  var timer = null;
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(preview, 350);
  }
  function preview() {
    fetch("/api/v1/cases/" + caseId + "/agreement/preview", {
      method: "POST", headers: headers(), credentials: "same-origin",
      body: JSON.stringify({ terms: terms() }),
    }).then(function (resp) {
      if (resp.ok) {
        status.textContent = "";  // an earlier complaint (a half-typed date) is answered
        return resp.text().then(function (html) { frame.srcdoc = html; });
      }
      return resp.json().then(function (data) { status.textContent = data.error.message; });
    });
  }

  function save() {
    var url = agreementId ? "/api/v1/agreements/" + agreementId + "/terms"
                          : "/api/v1/cases/" + caseId + "/agreement";
    status.textContent = "…";
    fetch(url, { method: agreementId ? "PUT" : "POST", headers: headers(),
                 credentials: "same-origin", body: JSON.stringify({ terms: terms() }) })
      .then(function (resp) {
        return resp.json().then(function (data) { return { ok: resp.ok, data: data }; });
      })
      .then(function (r) {
        if (!r.ok) { status.textContent = r.data.error.message; return; }
        status.textContent = r.data.message || "OK";
        setTimeout(function () { window.location.reload(); }, r.data.voided_signatures ? 2500 : 300);
      });
  }

  var initial = JSON.parse(document.getElementById("initial-terms").textContent);
  (initial.obligations || []).forEach(addRow);
  if (!initial.obligations || !initial.obligations.length) addRow(null);
  document.getElementById("add-obligation").addEventListener("click", function () {
    addRow(null);
    schedule();
  });
  document.getElementById("clauses").addEventListener("input", schedule);
  document.getElementById("save").addEventListener("click", save);
  preview();
})();
