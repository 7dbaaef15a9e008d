// The case file (电子卷宗) in the session room. The host picks one of the case's documents
// and shows it to the room ("document.show"); session.js turns every such message into a
// "courtlink:document" event, and this script shows it: an image in the page, and a link
// that opens it (a PDF in the browser's own viewer). Staff open it by the case's route with
// their login, a party by their link's route, which the server opens only for a document
// shown to the room they were in (or one they brought themselves).
(function () {
  "use strict";
  var shown = document.getElementById("document-shown");
  var config = JSON.parse(document.getElementById("session-config").textContent);
  var base = config.documents && config.documents.base;
  if (!shown || !base) return;
  var image = document.getElementById("document-image");
  var link = document.getElementById("document-open");
  var by = document.getElementById("document-by");

  var current = null;

  // Fetched once per showing: an image goes into the page (a blob: URL), a PDF is left to
  // the link. The server records the showing a moment after the room is told, so a party's
  // first request may come too early: a 404 is asked again, a few times.
  function load(url, tries) {
    fetch(url, { credentials: "same-origin" }).then(function (resp) {
      if (resp.status === 404 && tries > 1 && current === url) {
        setTimeout(function () { load(url, tries - 1); }, 500);
        return null;
      }
      return resp.ok ? resp.blob() : null;
    }).then(function (blob) {
      if (!blob || current !== url || blob.type.indexOf("image/") !== 0) return;
      if (image.src) URL.revokeObjectURL(image.src);
      image.src = URL.createObjectURL(blob);
      image.hidden = false;
    }).catch(function () { /* the link still opens it */ });
  }

  document.addEventListener("courtlink:document", function (event) {
    var msg = event.detail;
    var url = base + "/" + encodeURIComponent(msg.document_id);
    current = url;
    by.textContent = msg.by;
    link.href = url;
    image.hidden = true;
    shown.hidden = false;
    load(url, 4);
  });
  document.getElementById("document-hide").addEventListener("click", function () {
    shown.hidden = true;
  });

  // A party's upload, through their link, with a progress bar (a phone's photo over a slow
  // line takes a while); the answer's own message says why a file was refused.
  var files = document.getElementById("party-files");
  var input = document.getElementById("party-file");
  if (files && input) {
    var bar = document.getElementById("party-file-progress");
    var status = document.getElementById("party-file-status");
    var list = document.getElementById("party-file-list");
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file) return;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", base + "?filename=" + encodeURIComponent(file.name));
      xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
      });
      xhr.addEventListener("loadend", function () {
        bar.hidden = true;
        input.value = "";
        if (xhr.status === 201) {
          var item = document.createElement("li");
          item.textContent = file.name;
          list.appendChild(item);
          status.textContent = files.dataset.done + files.dataset.colon + file.name;
          return;
        }
        // The reason in the page's language where it has one, else the server's words.
        var why = "";
        try {
          var error = JSON.parse(xhr.responseText).error;
          why = files.dataset[error.code] || error.message;
        } catch (err) { why = ""; }
        status.textContent = files.dataset.failed + (why ? files.dataset.colon + why : "");
      });
      bar.value = 0;
      bar.hidden = false;
      status.textContent = "";
      xhr.send(file);
    });
  }

  var button = document.getElementById("document-show-button");
  var choice = document.getElementById("document-choice");
  if (button && choice) {
    button.disabled = choice.options.length === 0;
    button.addEventListener("click", function () {
      if (!choice.value) return;
      window.courtlink.signal.send({ type: "document.show", document_id: Number(choice.value) });
    });
    // A party adds a photo during the session: the host's list follows the case file (every
    // few seconds, and when they open the list), keeping what they had chosen.
    var refresh = function () {
      fetch(base, { credentials: "same-origin" }).then(function (resp) {
        return resp.ok ? resp.json() : null;
      }).then(function (docs) {
        if (!docs) return;
        var kept = choice.value;
        var ids = docs.filter(function (d) { return !d.purged; }).map(function (d) { return String(d.id); });
        var have = Array.prototype.map.call(choice.options, function (o) { return o.value; });
        if (ids.join() === have.join()) return;
        choice.textContent = "";
        docs.forEach(function (d) {
          if (d.purged) return;
          var option = document.createElement("option");
          option.value = d.id;
          option.textContent = d.title || d.filename;
          choice.appendChild(option);
        });
        if (ids.indexOf(kept) >= 0) choice.value = kept;
        button.disabled = choice.options.length === 0;
        document.getElementById("document-show").hidden = choice.options.length === 0;
      }).catch(function () { /* the next round tries again */ });
    };
    setInterval(refresh, 5000);
    choice.addEventListener("focus", refresh);
  }
})();
