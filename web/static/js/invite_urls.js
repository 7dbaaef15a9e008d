// The invite links on the session and booking pages: focusing one selects it whole, and its
// button copies it, saying so beside it (a script file: the Content-Security-Policy refuses
// inline handlers). The clipboard API needs a secure page (https, or localhost); elsewhere
// the browser's own copy command copies the selected link, and if that too is refused the
// page says how to copy it by hand.
document.querySelectorAll("input.invite-url").forEach((input) => {
  input.addEventListener("focus", () => input.select());
  const button = input.parentElement.querySelector("button.copy-link");
  const state = input.parentElement.querySelector(".copy-state");
  if (!button || !state) return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    let copied = false;
    try {
      await navigator.clipboard.writeText(input.value);
      copied = true;
    } catch {
      input.focus();
      input.select();
      try { copied = document.execCommand("copy"); } catch { copied = false; }
    }
    state.textContent = copied ? button.dataset.done : button.dataset.failed;
  });
});
