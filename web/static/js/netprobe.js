// The pre-join's network check: how fast this browser can take bytes from the server and send
// bytes to it (the probe routes, server/api/probe.py), and the video mode that suits it.
// The server carrying the media is the one measured, so the path measured is the one the
// session will use: a street office's line, a phone on mobile data. It is a first guess;
// in the room the server's own estimate decides what each camera sends.

const DOWN_BYTES = 1 << 20;     // the most downloaded: under a second at 10 Mb/s
const UP_BYTES = 256 * 1024;    // the most uploaded
const DOWN_MS = 3000;           // reading stops here on a slow line (the rate so far counts)
const UP_MS = 4000;

// What each mode needs, in kb/s. Standard video at a thumbnail or two still wants the middle
// layer (300 kb/s each) of two or three cameras, and sends up to 1.5 Mb/s in three layers
// (the browser drops the top one itself on a slower uplink). Data saver receives and sends
// the 100 kb/s layer. Audio is 30-50 kb/s each way with its headers.
const STANDARD = { down: 800, up: 500 };
const DATA_SAVER = { down: 200, up: 150 };

/** Downlink in kb/s: the bytes that arrived over the time since the first byte came. */
async function measureDown(url) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), DOWN_MS + 2000);
  try {
    const resp = await fetch(`${url}?bytes=${DOWN_BYTES}`, { cache: "no-store", signal: ctl.signal });
    if (!resp.ok) throw new Error(`probe ${resp.status}`);
    const reader = resp.body.getReader();
    const start = performance.now();
    let got = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      got += value.byteLength;
      if (performance.now() - start > DOWN_MS) { reader.cancel().catch(() => {}); break; }
    }
    const ms = Math.max(performance.now() - start, 1);
    return (got * 8) / ms;  // bits per ms = kb/s
  } finally {
    clearTimeout(timer);
  }
}

/** Uplink in kb/s. The server times the body as it arrives (its answer's ``kbps``): the
 *  browser's own upload progress counts bytes handed to its socket, ahead of the wire by the
 *  socket's buffer. A line too slow to send it all by UP_MS is slower than that much in that
 *  time, and the progress so far says by how much. */
function measureUp(url) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    let start = 0, sent = 0;
    xhr.open("POST", url);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    // Staff are logged in by cookie: their POST carries the page's CSRF token (a link's
    // route needs none, and ignores it).
    const csrf = document.querySelector('meta[name="csrf-token"]');
    if (csrf && csrf.content) xhr.setRequestHeader("X-CSRF-Token", csrf.content);
    xhr.upload.onloadstart = () => { start = performance.now(); };
    xhr.upload.onprogress = (e) => { sent = e.loaded; };
    xhr.onload = () => {
      if (xhr.status !== 200) { reject(new Error(`probe ${xhr.status}`)); return; }
      const answer = JSON.parse(xhr.responseText);
      // null: it all came at once, too fast to time (a fast line).
      resolve(answer.kbps ?? (UP_BYTES * 8) / Math.max(performance.now() - start, 1));
    };
    xhr.onerror = () => reject(new Error("probe failed"));
    const timer = setTimeout(() => {
      xhr.abort();
      resolve(Math.min(sent, UP_BYTES / 2) * 8 / UP_MS);
    }, UP_MS);
    xhr.onloadend = () => clearTimeout(timer);
    // Random bytes: a link that compresses would otherwise measure too fast.
    const body = new Uint8Array(UP_BYTES);
    for (let i = 0; i < UP_BYTES; i += 65536) crypto.getRandomValues(body.subarray(i, i + 65536));
    xhr.send(body);
  });
}

/** The mode that suits a measured link: "full" (standard), "low" (data saver) or "audio". */
export function suggestMode({ down, up }) {
  if (down >= STANDARD.down && up >= STANDARD.up) return "full";
  if (down >= DATA_SAVER.down && up >= DATA_SAVER.up) return "low";
  return "audio";
}

/** "850 kb/s" or "12.4 Mb/s". */
export function formatRate(kbps) {
  return kbps < 1000 ? `${Math.round(kbps)} kb/s` : `${(kbps / 1000).toFixed(1)} Mb/s`;
}

/** Measure down then up (one at a time: each would slow the other). */
export async function measureLink(url) {
  const down = await measureDown(url);
  const up = await measureUp(url);
  return { down, up, mode: suggestMode({ down, up }) };
}
