// What the page tells the person in it about where they are and what happens next (issue 14
// item 1): in the lobby, in the main room, taken aside into a private (caucus) room, left in
// the main room while the mediator is with the other side, the mediator gone, the connection
// lost, recording on or off, the session over. Everything is read from the roster ("state",
// signaling/PROTOCOL.md): a host present (`hosts[].present`) but not among the people of my
// room is with someone else in another room. The waited time is counted by the page from the
// moment the situation began (a reconnect that puts the person back where they were does not
// restart it). The headline is a polite live region; the ticking time is outside it, so a
// screen reader is not told every second.

const $ = (id) => document.getElementById(id);

function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
  if (el) el.hidden = !text;
}

/** "5秒", "3分12秒" (or "3 min 12 s"), from the page's strings. */
export function duration(seconds, t) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return t.dur_seconds.replace("{s}", s);
  return t.dur_minutes.replace("{m}", Math.floor(s / 60)).replace("{s}", s % 60);
}

/** The situation of `state.you` as one word, and who is with them. */
export function situation(state) {
  const me = state.you;
  if (me.place === null) return { key: "lobby", people: [] };
  const here = state.people.filter((p) => p.place === me.place && p.connected);
  if (me.role === "host") return { key: "host", people: here };
  const hostHere = here.some((p) => p.role === "host");
  const hostPresent = state.hosts.some((h) => h.present);
  const caucus = me.place !== "main";
  if (hostHere) return { key: caucus ? "caucus" : "main", people: here };
  if (!hostPresent) return { key: "host_absent", people: here };
  return { key: caucus ? "caucus_alone" : "waiting", people: here };
}

// The headline of each situation, and whether the page counts the time waited in it.
const HEADLINE = {
  host: [null, false],
  main: ["st_main", false],
  caucus: ["st_caucus", false],
  caucus_alone: ["st_caucus_alone", true],
  waiting: ["st_waiting", true],
  host_absent: ["st_host_absent", true],
};

export class RoomStatus {
  constructor(t, { party = false } = {}) {
    this.t = t;
    this.party = party;
    this.key = null;
    this.since = Date.now();
    this.state = null;
    this.conn = "";
    this.droppedAt = 0;
    this.recording = null;
    this.timer = setInterval(() => this.tick(), 1000);
  }

  /** Every roster. */
  update(state) {
    this.state = state;
    const { key } = situation(state);
    if (key !== this.key) {
      this.key = key;
      this.since = Date.now();
    }
    this.render();
  }

  /** The socket's status: connecting | connected | reconnecting | closed. */
  connection(status) {
    if (status === "reconnecting" && this.conn !== "reconnecting") this.droppedAt = Date.now();
    this.conn = status;
    this.render();
  }

  /** The server's "recording" message: whether this room is recorded now. */
  setRecording(active) {
    this.recording = !!active;
    this.render();
  }

  /** The session is over for this page: say what comes next. */
  finish(reason) {
    clearInterval(this.timer);
    const next = $("ended-next");
    if (next) setText(next, this.party && reason !== "replaced" ? this.t.ended_next : "");
  }

  render() {
    const t = this.t;
    const state = this.state;
    if (!state) return;
    const { key, people } = situation(state);
    const box = $("room-notice");
    if (key === "lobby") {
      setText($("lobby-next"), t.lobby_next);
      this.tick();
      return;
    }
    if (!box) return;
    let headline = HEADLINE[key][0] ? t[HEADLINE[key][0]] : "";
    let state_ = key;
    if (this.conn === "reconnecting") {
      headline = t.st_reconnecting;
      state_ = "reconnecting";
    }
    box.dataset.state = state_;
    setText($("room-notice-text"), headline);
    const names = people.map((p) => (p.pid === state.you.pid ? p.name + t.st_you : p.name));
    setText($("room-notice-who"), names.length ? t.st_in_room.replace("{names}", names.join("、")) : "");
    const rec = this.recording === null ? "" : this.recording ? t.st_recorded : t.st_not_recorded;
    setText($("room-notice-recording"), rec);
    box.dataset.recording = this.recording === null ? "" : String(this.recording);
    this.tick();
  }

  /** The ticking part: the time waited in this situation (or since the connection dropped). */
  tick() {
    const t = this.t;
    if (this.key === "lobby") {
      setText($("lobby-waited"), t.st_waited.replace("{time}", duration((Date.now() - this.since) / 1000, t)));
      return;
    }
    let text = "";
    if (this.conn === "reconnecting") {
      text = t.st_waited.replace("{time}", duration((Date.now() - this.droppedAt) / 1000, t));
    } else if (this.key && HEADLINE[this.key] && HEADLINE[this.key][1]) {
      text = t.st_waited.replace("{time}", duration((Date.now() - this.since) / 1000, t));
    }
    setText($("room-notice-waited"), text);
  }
}
