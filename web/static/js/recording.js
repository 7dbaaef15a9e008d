// Recording in the session room: the indicator everyone sees (driven by the server's
// "recording" message), the host's start/stop button (the recordings JSON API, POST with the
// page's CSRF token, like the page's other POSTs), and the banner that tells the host when
// recording stopped by itself (a full disk): the room goes on, the record does not.

import { aside } from "./words.js";

const $ = (id) => document.getElementById(id);

export class RecordingControl {
  // config: {api, active, alarm} from the page; t: the page's strings; toast(text) for errors;
  // ask(text, yesLabel) -> Promise<bool>, the page's own confirmation (room_layout.js).
  constructor(config, t, toast, ask) {
    this.ask = ask;
    this.api = config.api;
    this.active = config.active;  // the session's recording, as the host controls it
    this.alarmText = config.active ? null : config.alarm;
    this.t = t;
    this.toast = toast;
    this.host = false;
    this.where = null;
    this.busy = false;
    this.indicator = $("recording-indicator");
    this.button = $("recording-button");
    this.banner = $("recording-alarm");
    this.button.addEventListener("click", () => this.toggle());
    this.render();
  }

  // Called on every roster: the button and the banner are the host's. In the main room
  // (always recorded while recording is on) the "recording" message also tells the host
  // the session's state.
  setPlace(role, place) {
    this.host = role === "host";
    this.where = place;
    this.render();
  }

  // The "recording" message: whether the receiver's room is being recorded now.
  onMessage(msg) {
    this.indicator.hidden = !msg.active;
    this.indicator.dataset.active = String(msg.active);
    if (this.where === "main" && !this.busy) this.active = msg.active;
    if (msg.active) this.alarmText = null;
    this.render();
  }

  // The "error" message with code "recording_stopped" (the server sends it to hosts only).
  alarm(message) {
    this.active = false;
    this.alarmText = message;
    this.render();
  }

  render() {
    this.button.hidden = !this.host;
    this.button.textContent = this.active ? this.t.rec_stop : this.t.rec_start;
    this.button.dataset.active = String(this.active);
    this.button.disabled = this.busy;
    const show = this.host && !!this.alarmText;
    this.banner.hidden = !show;
    if (!show || this.banner.dataset.message === this.alarmText) return;
    this.banner.dataset.message = this.alarmText;
    const full = /disk_full|ENOSPC|No space/i.test(this.alarmText);
    const reason = full ? this.t.rec_disk_full : this.t.rec_write_error;
    const detail = document.createElement("small");
    detail.className = "muted";
    detail.textContent = aside(this.t, "", this.alarmText);
    this.banner.replaceChildren(this.t.rec_alarm.replace("{reason}", reason), detail);
  }

  async toggle() {
    if (this.busy) return;
    const want = !this.active;
    if (!want && !(await this.ask(this.t.rec_confirm_stop, this.t.rec_stop))) return;
    this.busy = true;
    this.render();
    const meta = document.querySelector("meta[name=csrf-token]");
    try {
      const resp = await fetch(this.api, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRF-Token": meta ? meta.content : "",
        },
        body: JSON.stringify({ active: want }),
      });
      const body = await resp.json().catch(() => ({}));
      if (!resp.ok) {
        this.toast(`${this.t.rec_failed}: ${(body.error && body.error.message) || resp.status}`);
      } else {
        this.active = body.active;
        if (this.active) this.alarmText = null;
      }
    } catch (err) {
      this.toast(`${this.t.rec_failed}: ${err}`);
    } finally {
      this.busy = false;
      this.render();
    }
  }
}
