// The pre-join self-test: camera preview, live microphone level, device choice, and a clear
// pass/fail. Passing means: the camera delivered frames with a picture, and the microphone
// heard something above the noise floor. The stream it opened is the one the session uses.
// Where the browser wants a click before it measures sound, the test says so and waits.

const LEVEL_PASS = 0.02;   // RMS of the waveform, 0..1
const VERDICT_AFTER_MS = 8000;
const GESTURE_CHECK_MS = 1000;

export class SelfTest {
  constructor({ video, meter, cameraSelect, micSelect, onChange }) {
    Object.assign(this, { video, meter, cameraSelect, micSelect, onChange });
    this.stream = null;
    this.cameraOk = false;
    this.micOk = false;
    this.error = null;
    this.finished = false;
    this.audioCtx = null;
    this.needsGesture = false;
    this.raf = 0;
    cameraSelect.addEventListener("change", () => this.start());
    micSelect.addEventListener("change", () => this.start());
  }

  async start() {
    this.stop();
    this.cameraOk = this.micOk = this.finished = this.needsGesture = false;
    this.error = null;
    const video = this.cameraSelect.value ? { deviceId: { exact: this.cameraSelect.value } } : true;
    const audio = this.micSelect.value ? { deviceId: { exact: this.micSelect.value } } : true;
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        video: video === true ? { width: { ideal: 1280 }, height: { ideal: 720 } } : video,
        audio,
      });
    } catch (err) {
      this.error = err;  // worded by its name (media_problem.js)
      this.finished = true;
      this.onChange(this);
      return;
    }
    this.video.srcObject = this.stream;
    await this.listDevices();
    this.watchCamera();
    this.watchMic();
    setTimeout(() => { this.finished = true; this.onChange(this); }, VERDICT_AFTER_MS);
    this.onChange(this);
  }

  async listDevices() {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const fill = (select, kind, track) => {
      const current = track ? track.getSettings().deviceId : "";
      select.replaceChildren(...devices.filter((d) => d.kind === kind).map((d, i) => {
        const opt = new Option(d.label || `${kind} ${i + 1}`, d.deviceId);
        opt.selected = d.deviceId === current;
        return opt;
      }));
    };
    fill(this.cameraSelect, "videoinput", this.stream.getVideoTracks()[0]);
    fill(this.micSelect, "audioinput", this.stream.getAudioTracks()[0]);
  }

  watchCamera() {
    const v = this.video;
    const seen = () => {
      if (v.videoWidth > 0 && !this.cameraOk) { this.cameraOk = true; this.onChange(this); }
    };
    if ("requestVideoFrameCallback" in v) v.requestVideoFrameCallback(seen);
    else v.addEventListener("loadeddata", seen, { once: true });
  }

  watchMic() {
    const track = this.stream.getAudioTracks()[0];
    if (!track) return;
    this.audioCtx = new AudioContext();
    const source = this.audioCtx.createMediaStreamSource(new MediaStream([track]));
    const analyser = this.audioCtx.createAnalyser();
    analyser.fftSize = 2048;  // ~43 ms per look, every 40 ms: a short word is not missed
    source.connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    const tick = () => {
      analyser.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const x of buf) sum += x * x;
      const rms = Math.sqrt(sum / buf.length);
      this.meter.value = Math.min(1, rms * 4);
      if (rms > LEVEL_PASS && !this.micOk) { this.micOk = true; this.onChange(this); }
    };
    this.audioCtx.resume().catch(() => {});
    this.raf = setInterval(tick, 40);
    // Firefox (by its default autoplay policy) and Safari keep an AudioContext suspended
    // until the person interacts with the page, and resume() then never settles: the meter
    // would read silence forever and the test say "say something" to someone talking. When
    // the context is still suspended after a moment, ask for the click it needs.
    const ctx = this.audioCtx;
    setTimeout(() => {
      if (this.audioCtx === ctx && ctx.state === "suspended") {
        this.needsGesture = true;
        this.onChange(this);
      }
    }, GESTURE_CHECK_MS);
  }

  /** Called on a click or key press: a suspended meter may start now. */
  resumeMeter() {
    const ctx = this.audioCtx;
    if (!ctx || ctx.state !== "suspended") return;
    ctx.resume().then(() => {
      if (this.audioCtx === ctx) { this.needsGesture = false; this.onChange(this); }
    }).catch(() => {});
  }

  get passed() { return this.cameraOk && this.micOk; }

  /** Stops the meter only; the tracks live on into the session. */
  stopMeter() {
    clearInterval(this.raf);
    if (this.audioCtx) this.audioCtx.close().catch(() => {});
    this.audioCtx = null;
  }

  stop() {
    this.stopMeter();
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
  }
}
