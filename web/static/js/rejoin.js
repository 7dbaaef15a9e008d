// The resume token kept in this browser, so that a closed tab or a reload gets its place back
// as a dropped connection does (signaling/PROTOCOL.md, "Heartbeats and resume").
// localStorage, as sessionStorage dies with the tab; one entry per session and link identity
// (config.resume_key: the party's invite, or the staff account), so another link or another
// account in this browser never presents it. An entry is good for the server's resume window
// counted from the last time the page heard the server, and is forgotten when the person
// leaves, is denied, removed or sent away, or the session ends. Another browser has no entry
// and waits in the lobby.

const PREFIX = "courtlink.resume.";

function storage() {
  try { return window.localStorage; } catch { return null; }  // storage may be switched off
}

function read(store, key) {
  try {
    const entry = JSON.parse(store.getItem(key));
    return entry && typeof entry.token === "string" && entry.expires > Date.now() ? entry : null;
  } catch { return null; }
}

export class ResumeStore {
  constructor(key) {
    this.key = PREFIX + key;
    this.token = null;
    this.seconds = 60;
    const store = storage();
    if (!store) return;
    try {
      // Tokens of other sessions and links past their window: gone, not left lying about.
      for (const k of Object.keys(store)) {
        if (k.startsWith(PREFIX) && !read(store, k)) store.removeItem(k);
      }
    } catch { /* storage refused: nothing kept, nothing to tidy */ }
  }

  /** The entry kept for this link ({token, name, expires}), or null. */
  load() {
    const store = storage();
    return store ? read(store, this.key) : null;
  }

  save(token, name, seconds) {
    this.token = token;
    this.seconds = seconds || this.seconds;
    this.write({ token, name: name || null, expires: Date.now() + this.seconds * 1000 });
  }

  /** Still connected: the window starts again from now. Only the page holding the entry's
   * token extends it: a tab replaced by a newer one must not bring back its dead token. */
  touch() {
    const entry = this.token && this.load();
    if (entry && entry.token === this.token) {
      this.write({ ...entry, expires: Date.now() + this.seconds * 1000 });
    }
  }

  /** Forget this page's token (a newer tab's, if one took over, stays). */
  clear() {
    const entry = this.load();
    if (!entry || entry.token === this.token) {
      try { storage()?.removeItem(this.key); } catch { /* nothing kept */ }
    }
    this.token = null;
  }

  write(entry) {
    try { storage()?.setItem(this.key, JSON.stringify(entry)); } catch { /* full or refused */ }
  }
}
