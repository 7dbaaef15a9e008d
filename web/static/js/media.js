// The browser's one peer connection to the SFU. The server makes every offer; this side only
// answers (the polite peer of perfect negotiation, which here never has to roll back because
// it never offers). The first three recvonly m-lines of the server's offer are where this
// browser publishes: microphone, camera, screen. Every sendonly m-line is someone else's
// track; the offer's "tracks" map says whose (mid -> {pid, source}).

// The camera as three simulcast encodings, when the server's offer asks for them by rid:
// full, half and quarter size. Their sum stays under the server's 1500 kb/s cap per camera.
const LAYERS = {
  h: { scaleResolutionDownBy: 1, maxBitrate: 1_100_000 },
  m: { scaleResolutionDownBy: 2, maxBitrate: 300_000 },
  l: { scaleResolutionDownBy: 4, maxBitrate: 100_000 },
};

export class MediaLink {
  constructor({ iceServers, onRemote, onState }) {
    this.iceServers = iceServers || [];
    this.onRemote = onRemote;
    this.onState = onState;
    this.pc = null;
    this.local = { audio: null, camera: null, screen: null };
    this.publish = [];  // the three publishing transceivers, in order
    this.queue = Promise.resolve();
    this.lastLoss = { lost: 0, received: 0 };
    this.mode = "full";  // what room_video.js chose: full, low (data saver) or audio only
  }

  setMode(mode) {
    this.mode = mode;
    return this.applyLayers().catch((err) => console.error("camera layers not set", err));
  }

  /** Sizes and bitrates of the camera's simulcast encodings, and which are sent: all, only
   *  the lowest (data saver), or none (audio only). Nothing to do without simulcast. */
  async applyLayers() {
    const tr = this.publish[1];
    if (!tr) return;
    const params = tr.sender.getParameters();
    if (!params.encodings || !params.encodings.some((e) => e.rid in LAYERS)) return;
    for (const e of params.encodings) {
      if (!(e.rid in LAYERS)) continue;
      Object.assign(e, LAYERS[e.rid]);
      e.active = this.mode === "audio" ? false : this.mode === "low" ? e.rid === "l" : true;
    }
    await tr.sender.setParameters(params);
  }

  setTrack(source, track) {
    this.local[source] = track;
    const index = ["audio", "camera", "screen"].indexOf(source);
    const tr = this.publish[index];
    if (tr) return tr.sender.replaceTrack(track);
    return Promise.resolve();
  }

  reset() {
    if (this.pc) this.pc.close();
    this.pc = null;
    this.publish = [];
    this.onRemote({});
  }

  handleOffer(sdp, tracks) {
    // Offers are answered one at a time, in order.
    this.queue = this.queue.then(() => this.answer(sdp, tracks)).catch((err) => {
      console.error("answering the offer failed", err);
      this.onState("failed", String(err && err.message || err));
      return null;
    });
    return this.queue;
  }

  async answer(sdp, tracks) {
    if (!this.pc) {
      this.pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: "max-bundle" });
      const pc = this.pc;
      pc.onconnectionstatechange = () => { if (this.pc === pc) this.onState(pc.connectionState); };
    }
    const pc = this.pc;
    await pc.setRemoteDescription({ type: "offer", sdp });
    const directions = sectionDirections(sdp);
    const publishMids = directions.filter((s) => s.direction === "recvonly").map((s) => s.mid);
    this.publish = publishMids.slice(0, 3).map((mid) => pc.getTransceivers().find((t) => t.mid === mid));
    const sources = ["audio", "camera", "screen"];
    for (let i = 0; i < this.publish.length; i++) {
      const tr = this.publish[i];
      if (!tr) continue;
      tr.direction = "sendonly";
      if (tr.sender.track !== this.local[sources[i]]) await tr.sender.replaceTrack(this.local[sources[i]]);
    }
    await pc.setLocalDescription(await pc.createAnswer());
    await this.applyLayers().catch((err) => console.error("camera layers not set", err));
    await iceGathered(pc, 3000);
    this.reconcile(tracks || {});
    return pc.localDescription.sdp;
  }

  reconcile(tracks) {
    // Rebuild "who sends what" from this offer: a reused m-line may now carry someone else.
    const byPid = {};
    for (const tr of this.pc.getTransceivers()) {
      const info = tracks[tr.mid];
      if (!info || tr.currentDirection === "inactive" || tr.currentDirection === "sendonly") continue;
      (byPid[info.pid] ||= {})[info.source] = tr.receiver.track;
    }
    this.onRemote(byPid);
  }

  /** The level (0..1) of each remote voice just now, by track id: the receiving side's
   *  statistics (inbound-rtp audioLevel, measured on what was decoded), else the receivers'
   *  synchronization sources (the sender's audio level header extension). */
  async audioLevels() {
    const out = {};
    if (!this.pc) return out;
    const stats = await this.pc.getStats();
    stats.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio" && s.trackIdentifier) {
        out[s.trackIdentifier] = s.audioLevel || 0;
      }
    });
    if (Object.keys(out).length) return out;
    for (const r of this.pc.getReceivers()) {
      if (!r.track || r.track.kind !== "audio" || !r.getSynchronizationSources) continue;
      const sources = r.getSynchronizationSources();
      out[r.track.id] = sources.length ? sources[0].audioLevel || 0 : 0;
    }
    return out;
  }

  /** Packet loss over the last interval across everything received and sent, 0..1. */
  async loss() {
    if (!this.pc) return null;
    const stats = await this.pc.getStats();
    let lost = 0, received = 0, remoteLoss = 0;
    stats.forEach((s) => {
      if (s.type === "inbound-rtp") { lost += s.packetsLost || 0; received += s.packetsReceived || 0; }
      if (s.type === "remote-inbound-rtp" && typeof s.fractionLost === "number") {
        remoteLoss = Math.max(remoteLoss, s.fractionLost);
      }
    });
    const dl = Math.max(0, lost - this.lastLoss.lost), dr = Math.max(0, received - this.lastLoss.received);
    this.lastLoss = { lost, received };
    const inbound = dl + dr > 0 ? dl / (dl + dr) : 0;
    return Math.max(inbound, remoteLoss);
  }
}

export function quality(loss) {
  if (loss === null) return null;
  if (loss < 0.10) return "good";
  if (loss <= 0.15) return "poor";
  return "bad";
}

function sectionDirections(sdp) {
  const out = [];
  for (const section of sdp.split(/\r?\nm=/).slice(1)) {
    const mid = /\na=mid:(\S+)/.exec("\n" + section);
    const dir = /\na=(sendrecv|sendonly|recvonly|inactive)/.exec("\n" + section);
    out.push({ mid: mid ? mid[1] : null, direction: dir ? dir[1] : "sendrecv" });
  }
  return out;
}

function iceGathered(pc, timeoutMs) {
  // aiortc takes no trickled candidates: send the answer once gathering is complete (fast
  // with host candidates; bounded when a TURN server is slow).
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener("icegatheringstatechange", check); resolve(); };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(done, timeoutMs);
  });
}
