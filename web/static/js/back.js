// The error page's "Go back" link: back in the browser's history when there is one (a
// script file, not a javascript: link, which the Content-Security-Policy refuses).
(() => {
  const link = document.getElementById("go-back");
  if (!link) return;
  link.addEventListener("click", (ev) => {
    if (history.length > 1) { ev.preventDefault(); history.back(); }
  });
})();
