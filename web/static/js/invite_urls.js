// The session page's invite links: focusing one selects it whole, ready to copy (a script
// file: the Content-Security-Policy refuses inline handlers such as onfocus=).
document.querySelectorAll("input.invite-url").forEach((input) => {
  input.addEventListener("focus", () => input.select());
});
