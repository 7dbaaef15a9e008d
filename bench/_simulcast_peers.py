"""Lean load peers that publish simulcast, and subscribers that report what they lose.

``bench/_media_peers.py``'s ``LeanPeer`` with three changes, for ``bench/media.py --simulcast``:

- A publisher answers the server's offer as a browser sending simulcast does: the camera
  m-line says ``a=rid:h send`` (``m``, ``l``), ``a=simulcast:send h;m;l`` and the rid header
  extension with the id the offer gave. It then sends three pre-encoded clips of the same
  picture (full, half and quarter size), each on its own SSRC, the rid in an RFC 8285
  one-byte header extension on every packet of a layer's first ``RID_FRAMES`` frames. A PLI
  for one layer's SSRC makes that layer's next frame a keyframe (its clip starts again).
- Every peer sends an RTCP receiver report once a second with the fraction lost, per SSRC it
  receives, as counted from sequence numbers, and LSR/DLSR from the server's last sender
  report on it (so the server can take the round trip), as a browser's does; no NACK, no PLI
  (nothing else the SFU needs).
- Every peer records, per received camera, when its first packet came, each keyframe's size
  (read from the VP8 keyframe header: which layer the SFU forwards) and when each whole frame
  arrived (all its packets, by sequence number); per audio stream, each packet's arrival
  and whether it carries Opus in-band FEC.
- With ``--audio-fec CLIP`` a publisher sends that clip (the same speech with in-band FEC)
  instead of its plain one from the first report of loss on its audio that the server sends
  it until five clean ones: what a browser's Opus encoder does when told of loss, and how
  the SFU asks for FEC for a lossy subscriber (``signaling/sfu/opus.py``).

``--relay PORT_A,PORT_B`` puts a peer behind ``bench/_simulcast_relay.py``: the server's ICE
candidates in each offer become port A of the relay (on the candidate's own address) and the
peer's own in its answer port B, so both directions of its media cross the impaired link.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import struct
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _media_peers
from _media_clip import read_frames, vp8_payloads
from _media_peers import HDR, U32, LeanPeer, _report
from aiortc.rtp import (
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
)

from signaling.sfu.aiortc_hook.transceivers import (
    dtls_transport,
    last_sender_report,
    negotiated_payload_type,
)
from signaling.sfu.media import payload_offset, vp8_descriptor_size
from signaling.sfu.opus import has_fec
from signaling.sfu.simulcast import RID_URI, RIDS

RID_FRAMES = 90  # frames of each layer that carry the rid (3 s): the SFU reads the first
_CLIPS: dict[str, Any] = {}  # path -> (payloads, keyframe indexes): one load per process


def _layer_clip(path: str) -> tuple[list[list[bytes]], list[int]]:
    if path not in _CLIPS:
        frames = read_frames(Path(path))
        _CLIPS[path] = (
            [vp8_payloads(d) for d, _ in frames],
            [i for i, (_, k) in enumerate(frames) if k],
        )
    return _CLIPS[path]  # type: ignore[no-any-return]


def rid_extension(ext_id: int, rid: str) -> bytes:
    """The RFC 8285 one-byte header extension block carrying the rid, padded to 32 bits."""
    body = bytes([ext_id << 4 | (len(rid) - 1)]) + rid.encode()
    body += b"\0" * (-len(body) % 4)
    return b"\xbe\xde" + struct.pack("!H", len(body) // 4) + body


def relay_candidates(sdp: str, port: int) -> str:
    """Keep one IPv4 UDP candidate per m-section, moved to ``port`` on its own address."""
    out, seen = [], False
    for line in sdp.splitlines():
        if line.startswith("m="):
            seen = False
        if line.startswith("a=candidate:"):
            parts = line.split()
            if seen or parts[2].lower() != "udp" or ":" in parts[4]:
                continue
            parts[5], seen = str(port), True
            line = " ".join(parts)
        out.append(line)
    return "\r\n".join(out) + "\r\n"


class Stream:
    """What one peer received on one SSRC."""

    __slots__ = (
        "arrivals",
        "base",
        "complete",
        "count",
        "first",
        "frame",
        "keyframes",
        "last",
        "max",
        "prior",
        "seen",
    )

    def __init__(self, now: float) -> None:
        self.first = self.last = now
        self.base: int | None = None
        self.max = 0  # extended highest sequence number
        self.count = 0
        self.prior = (0, 0)  # (expected, received) at the last report
        self.frame: list[int] | None = None  # [timestamp, first seq, packets] of the frame now
        self.complete: list[float] = []  # arrival of each whole frame
        self.keyframes: list[tuple[float, int]] = []  # (arrival, height)
        # audio: (arrival, extended seq, whether it carries Opus in-band FEC)
        self.arrivals: list[tuple[float, int, bool]] = []
        self.seen = [-1] * 1024  # extended sequence numbers by their low bits: duplicates

    def duplicate(self, ext: int) -> bool:
        """Whether this packet came before (an audio copy, or an SFU probe's duplicate of
        video): received, as RFC 3550 A.3 counts it, but not media again."""
        if self.seen[ext % 1024] == ext:
            return True
        self.seen[ext % 1024] = ext
        return False

    def sequence(self, seq: int) -> int:
        if self.base is None:
            self.base = self.max = seq
        else:
            delta = (seq - self.max) & 0xFFFF
            if delta < 0x8000:
                self.max += delta
            else:
                return self.max - ((self.max - seq) & 0xFFFF)
        return self.max


class SimulcastPeer(LeanPeer):
    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self.rid_ext = 0
        self.streams: dict[int, Stream] = {}
        self.want: list[bool] = [False] * len(RIDS)
        self.layer_ssrcs: list[int] = []
        self.rr_blocks = [0, 0]  # report blocks sent without, with an LSR
        self.relay = [int(p) for p in self.args.relay.split(",")] if self.args.relay else []
        self.layers = [_layer_clip(p) for p in (self.args.video, *self.args.layers.split(","))]
        # The same speech with in-band FEC: sent while the server's reports say the audio
        # is lost further on, as a browser's Opus encoder adds it (signaling/sfu/opus.py).
        self.opus_plain: list[bytes] = self.opus
        self.opus_fec: list[bytes] | None = None
        if self.args.audio_fec:
            fec = [d for d, _ in read_frames(Path(self.args.audio_fec))]
            n = min(len(fec), len(self.opus))  # one list swapped for the other mid-clip
            self.opus = self.opus_plain = self.opus[:n]
            self.opus_fec = fec[:n]
        self.clean_reports = 0
        self.fec_switches: list[tuple[float, bool]] = []

    def munge_offer(self, sdp: str) -> str:
        found = re.search(rf"^a=extmap:(\d+) {re.escape(RID_URI)}", sdp, re.M)
        if found:
            self.rid_ext = int(found.group(1))
        return relay_candidates(sdp, self.relay[0]) if self.relay else sdp

    def munge_answer(self, sdp: str) -> str:
        if self.relay:
            sdp = relay_candidates(sdp, self.relay[1])
        if not self.publish or not self.rid_ext:
            return sdp
        sections = re.split(r"(?=^m=)", sdp, flags=re.M)
        lines = [f"a=extmap:{self.rid_ext} {RID_URI}"] + [f"a=rid:{r} send" for r in RIDS]
        sections[2] += "\r\n".join([*lines, f"a=simulcast:send {';'.join(RIDS)}"]) + "\r\n"
        return "".join(sections)

    async def start(self, session: Any) -> None:
        await super().start(session)
        self.tasks.append(asyncio.create_task(self._reports()))
        self.tasks[-1].add_done_callback(_report)

    def _on_rtcp(self, packet: Any) -> None:
        if isinstance(packet, RtcpRrPacket) and self.opus_fec is not None:
            audio = self.pc.getTransceivers()[0].sender._ssrc
            for report in packet.reports:
                if report.ssrc == audio:
                    self._audio_loss(report.fraction_lost)
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            if packet.media_ssrc in self.layer_ssrcs:
                self.want[self.layer_ssrcs.index(packet.media_ssrc)] = True
            else:
                self.want = [True] * len(RIDS)

    def _audio_loss(self, fraction: int) -> None:
        """FEC on at the first report of loss, off after five clean ones (a browser's
        encoder follows a smoothed loss: about as quick)."""
        self.clean_reports = 0 if fraction else self.clean_reports + 1
        fec = fraction > 0 or (self.opus is self.opus_fec and self.clean_reports < 5)
        if fec != (self.opus is self.opus_fec):
            self.opus = self.opus_fec if fec else self.opus_plain  # type: ignore[assignment]
            self.fec_switches.append((time.monotonic(), fec))

    def _on_rtp(self, data: bytes) -> bool:
        ssrc = U32.unpack_from(data, 8)[0]
        now = time.monotonic()
        st = self.streams.get(ssrc)
        if st is None:
            st = self.streams[ssrc] = Stream(now)
        st.count += 1
        st.last = now
        seq = (data[2] << 8) | data[3]
        ext = st.sequence(seq)
        pub = self.video_pub.get(ssrc)
        if pub is not None and st.duplicate(ext):
            return True
        if pub is None:
            self.audio_packets += 1
            if self.relay:
                st.arrivals.append((now, ext, has_fec(memoryview(data)[payload_offset(data) :])))
            return True
        self.video_packets_in += 1
        off = payload_offset(data)
        head = off + vp8_descriptor_size(data, off)
        ts = U32.unpack_from(data, 4)[0]
        if data[off] & 0x1F == 0x10:  # S=1, partition 0: a frame starts
            st.frame = [ts, seq, 0]
            if not data[head] & 0x01 and len(data) >= head + 10:  # a keyframe: its size
                height = struct.unpack_from("<H", data, head + 8)[0] & 0x3FFF
                st.keyframes.append((now, height))
        frame = st.frame
        if data[1] & 0x80:
            self.markers[pub] = self.markers.get(pub, 0) + 1
        if frame is not None and frame[0] == ts:
            frame[2] += 1
            if data[1] & 0x80:
                if frame[2] == ((seq - frame[1]) & 0xFFFF) + 1:
                    st.complete.append(now)
                st.frame = None
        return True

    async def _reports(self) -> None:
        """A receiver report a second, a block per SSRC received (fraction lost since the last)."""
        rr_ssrc = random.getrandbits(32)
        while True:
            await asyncio.sleep(1)
            blocks = []
            for ssrc, st in self.streams.items():
                if st.base is None:
                    continue
                expected = st.max - st.base + 1
                exp, rec = expected - st.prior[0], st.count - st.prior[1]
                st.prior = (expected, st.count)
                lost = exp - rec
                fraction = min(255, (lost << 8) // exp) if exp > 0 and lost > 0 else 0
                lsr, dlsr = self._last_sr(ssrc)
                self.rr_blocks[bool(lsr)] += 1
                blocks.append(RtcpReceiverInfo(
                    ssrc=ssrc, fraction_lost=fraction,
                    packets_lost=max(0, min(expected - st.count, 0x7FFFFF)),
                    highest_sequence=st.max & 0xFFFFFFFF, jitter=0, lsr=lsr, dlsr=dlsr,
                ))  # fmt: skip
            if blocks and self.link is not None:
                self.link.send_rtcp(bytes(RtcpRrPacket(ssrc=rr_ssrc, reports=blocks[:31])))

    def _last_sr(self, ssrc: int) -> tuple[int, int]:
        """LSR and DLSR (RFC 3550 6.4.2) from the server's last sender report on ``ssrc``,
        which aiortc's receiver for that m-line kept: the server's round trip from them."""
        for t in self.pc.getTransceivers():
            lsr, dlsr = last_sender_report(t.receiver, ssrc)
            if lsr:
                return lsr, dlsr
        return 0, 0

    async def _send_video(self) -> None:
        t = self.pc.getTransceivers()[1]
        pt = negotiated_payload_type(t)
        self.layer_ssrcs = [t.sender._ssrc] + [random.getrandbits(32) for _ in RIDS[1:]]
        router = dtls_transport(self.pc)._rtp_router
        for ssrc in self.layer_ssrcs[1:]:  # a PLI for these reaches the camera's sender too
            router.register_sender(t.sender, ssrc)
        n = len(RIDS)
        seqs = [random.randrange(0x8000) for _ in range(n)]
        tss = [random.getrandbits(32) for _ in range(n)]
        index, sent = [0] * n, [0] * n
        exts = [rid_extension(self.rid_ext, rid) for rid in RIDS]
        step, period = 90000 // self.args.fps, 1 / self.args.fps
        due = time.monotonic()
        while True:
            link = self.link
            for k in range(n):
                frames, keys = self.layers[k]
                if self.want[k]:
                    self.want[k] = False
                    index[k] = keys[0]
                payloads = frames[index[k]]
                index[k] = (index[k] + 1) % len(frames)
                ext = exts[k] if sent[k] < RID_FRAMES else b""
                b0 = 0x90 if ext else 0x80
                last = len(payloads) - 1
                for j, chunk in enumerate(payloads):
                    header = HDR.pack(b0, (0x80 if j == last else 0) | pt, seqs[k], tss[k],
                                      self.layer_ssrcs[k])  # fmt: skip
                    desc = _media_peers.vp8_descriptor(j == 0, sent[k])
                    link.send_rtp(header + ext + desc + chunk)  # type: ignore[union-attr]
                    seqs[k] = (seqs[k] + 1) & 0xFFFF
                tss[k] = (tss[k] + step) & 0xFFFFFFFF
                if k == 0:
                    self.video_packets_out += last + 1
                    self.sent[sent[0]] = (time.monotonic(), last + 1)
                    self.frames_sent = sent[0] + 1
                sent[k] += 1
            due += period
            delay = due - time.monotonic()
            if delay < -2 * period:
                due = time.monotonic()
            await asyncio.sleep(max(delay, 0))

    def result(self) -> dict[str, Any]:
        out = super().result()
        out["recv"] = {}  # picture ids are re-based at a layer switch: not comparable
        out["rr_blocks_without_with_lsr"] = self.rr_blocks
        out["fec_switches"] = self.fec_switches
        out["streams"] = {
            str(ssrc): {
                "pub": self.video_pub.get(ssrc),
                "first": st.first,
                "last": st.last,
                "complete": st.complete,
                "keyframes": st.keyframes,
                "arrivals": st.arrivals,
                "count": st.count,
                "expected": 0 if st.base is None else st.max - st.base + 1,
            }
            for ssrc, st in self.streams.items()
        }
        return out


def more_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--layers", required=True, help="the m and l layers' clips, comma-separated")
    p.add_argument("--relay", default="", help="PORT_A,PORT_B of an impairment relay")
    p.add_argument("--audio-fec", default="", help="the audio clip with in-band FEC")


if __name__ == "__main__":
    asyncio.run(_media_peers.main(SimulcastPeer, more_args))
