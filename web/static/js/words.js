// Words joined as the page's language joins them (the room strings `t`): Chinese puts an
// aside in full-width brackets with no space before them ("主会场（3）"), English in ASCII
// ones after a space ("Main room (3)"). The catalogue's "%(what)s (%(more)s)" says which.

export function aside(t, what, more) {
  return t.aside.replace("%(what)s", what).replace("%(more)s", more);
}
