// The signaling socket: protocol v1 (signaling/PROTOCOL.md), heartbeats, automatic reconnect
// with the resume token, kept in the browser's ResumeStore (rejoin.js) when one is given, so a
// new page of the same link resumes too. Events: "status" (connecting | connected |
// reconnecting | closed), "message" (every server message, parsed), "final" (the server said
// bye for good).

const FINAL = new Set(["denied", "removed", "ended", "replaced", "left", "flood", "revoked",
                       "cancelled", "moved", "deactivated"]);

export class Signal extends EventTarget {
  constructor(url, store = null) {
    super();
    this.store = store;
    this.url = new URL(url, location.href);
    this.url.protocol = this.url.protocol === "https:" ? "wss:" : "ws:";
    this.ws = null;
    this.resume = null;
    this.welcomed = false;
    this.name = null;
    this.nextId = 1;
    this.heartbeat = 10;
    this.lastHeard = 0;
    this.attempt = 0;
    this.final = false;
    this.timer = null;
  }

  start(name) {
    this.name = name || null;
    const kept = this.store && this.store.load();
    if (kept) this.resume = kept.token;  // this link's place, left by a closed tab or a reload
    this.open();
    this.timer = setInterval(() => this.beat(), 1000);
  }

  open() {
    this.emit("status", this.welcomed ? "reconnecting" : "connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.lastHeard = Date.now();
      const hello = { type: "hello" };
      if (this.name) hello.name = this.name;
      if (this.resume) hello.resume = this.resume;
      this.send(hello);
    };
    ws.onmessage = (ev) => {
      this.lastHeard = Date.now();
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg.type === "ping") { this.send({ type: "pong" }); return; }
      if (msg.type === "welcome") {
        this.resume = msg.resume;
        this.welcomed = true;
        if (this.store) this.store.save(msg.resume, this.name, msg.resume_seconds);
        this.heartbeat = msg.heartbeat_seconds || 10;
        this.attempt = 0;
        this.emit("status", "connected");
      }
      if (msg.type === "bye" && FINAL.has(msg.reason)) {
        this.final = true;
        // The place is gone (or, "replaced", now another page's): nothing left to resume here.
        if (this.store && msg.reason !== "replaced") this.store.clear();
        this.emit("final", msg.reason);
      }
      this.emit("message", msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.final) { this.stop(); return; }
      // Back off 0.5, 1, 2, 4 s... (at most 8 s): a flapping office link must not hammer us.
      const delay = Math.min(8000, 500 * 2 ** this.attempt++);
      this.emit("status", "reconnecting");
      setTimeout(() => { if (!this.final) this.open(); }, delay);
    };
  }

  beat() {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const silent = Date.now() - this.lastHeard;
    if (silent > 3 * this.heartbeat * 1000) { ws.close(); return; }  // dead: reconnect
    if (this.store) this.store.touch();  // connected: the place is kept from now on
    if (silent > this.heartbeat * 1000) this.send({ type: "ping" });
  }

  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return null;
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ v: 1, id, ...msg }));
    return id;
  }

  /** Simulate a dropped connection (used by the browser test and the "reconnect" button). */
  drop() { if (this.ws) this.ws.close(); }

  stop() {
    this.final = true;
    clearInterval(this.timer);
    if (this.ws) this.ws.close();
    this.emit("status", "closed");
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }
}
