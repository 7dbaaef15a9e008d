// Why a camera or microphone could not be opened, in words a person can act on: the
// browser's own message ("Permission denied", "Could not start video source") is English
// and says nothing of what to do. Worded by the error's name (the DOMException names that
// getUserMedia rejects with), in the page's language (the room strings `t`).

import { aside } from "./words.js";

const KINDS = {
  NotAllowedError: "media_denied",
  SecurityError: "media_denied",
  NotFoundError: "media_missing",
  OverconstrainedError: "media_missing",
  NotReadableError: "media_busy",
  AbortError: "media_busy",
};

export function mediaProblem(err, t) {
  const name = (err && err.name) || "";
  return t[KINDS[name]] || (name ? aside(t, t.media_other, name) : t.media_other);
}
