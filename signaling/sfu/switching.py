"""One simulcast camera on one subscriber: one layer at a time, as one continuous stream.

A ``SwitchingOutlet`` is an ``outlet.Outlet`` fed by every layer of a ``SimulcastTrack``
through a ``LayerPort`` each. It forwards the layer it is on (``current``); when the
allocation (``allocation.allocate``) gives it another ``target`` it asks that layer for a
keyframe and goes on with the current one until the keyframe comes, then switches there.
Nothing is decoded or re-encoded: at the switch the rewrite is re-based so that what the
subscriber sees stays one stream on one SSRC, with sequence numbers, RTP timestamps and the
VP8 picture id and TL0PICIDX each going on from the last one sent. A target of None pauses
the video (the subscriber's link cannot carry even the lowest layer, or it asked for audio
only); it starts again at a keyframe.
"""

from __future__ import annotations

import random
import time
from typing import Any

from signaling.sfu.media import payload_offset
from signaling.sfu.outlet import _SEQ_TS, Outlet, Source

FRAME_TICKS = 3000  # 90 kHz ticks in one frame at 30 fps: the gap when no time is known


class LayerPort:
    """What a layer's ``InboundTrack`` calls for one subscriber: the outlet, and which layer."""

    __slots__ = ("layer", "outlet")
    waiting = False  # the layer's own tick never asks for keyframes on a port's behalf

    def __init__(self, outlet: SwitchingOutlet, layer: int) -> None:
        self.outlet = outlet
        self.layer = layer

    @property
    def holder(self) -> Any:
        return self.outlet.holder

    def send(
        self, b0: int, b1: int, payload: Any, seq: int, ts: int, keyframe: bool, now: float
    ) -> None:
        self.outlet.send_layer(self.layer, b0, b1, payload, seq, ts, keyframe, now)


class SwitchingOutlet(Outlet):
    """A simulcast camera on one subscriber's sender (see the module docstring)."""

    __slots__ = (
        "current",
        "last_pid",
        "last_tl0",
        "pid_offset",
        "ports",
        "probe_credit",
        "probe_share",
        "switched_at",
        "switches",
        "target",
        "tl0_offset",
    )

    def __init__(self, track: Source, subscriber_id: str, holder: Any, **kwargs: Any) -> None:
        super().__init__(track, subscriber_id, holder, **kwargs)
        self.ports = tuple(LayerPort(self, i) for i in range(3))
        self.current: int | None = None
        self.target: int | None = None
        self.pid_offset: int | None = None
        self.tl0_offset: int | None = None
        self.last_pid: int | None = None
        self.last_tl0: int | None = None
        self.switches = 0
        self.switched_at = 0.0  # monotonic, when the last switch took effect
        # While the downlink probes: duplicates per packet sent (allocation._probe_first),
        # counted with the outlet's copies (on the link, not new media).
        self.probe_share = 0.0
        self.probe_credit = 0.0
        self.waiting = False

    # --- the choice ------------------------------------------------------------------------

    def retarget(self, layer: int | None) -> None:
        """Forward ``layer`` from its next keyframe on (None: pause the video)."""
        if layer == self.target:
            return
        self.target = layer
        if layer is None:
            self.current = None
            self.waiting = False
            return
        self.waiting = layer != self.current
        if self.waiting:
            self.track.request_layer_keyframe(layer)  # type: ignore[attr-defined]

    def layer_appeared(self) -> None:
        """A layer started sending: a new outlet with no choice yet takes the best one."""
        if self.target is None and self.current is None and not self.switches:
            flowing = self.track.flowing()  # type: ignore[attr-defined]
            if flowing:
                self.retarget(flowing[0])

    def keyframe_asked(self) -> None:
        """The subscriber asked for a keyframe (PLI/FIR): from the layer it is on, or about
        to be on."""
        layer = self.current if self.current is not None else self.target
        if layer is not None:
            self.track.request_layer_keyframe(layer)  # type: ignore[attr-defined]

    # --- forwarding --------------------------------------------------------------------

    def send_layer(
        self,
        layer: int,
        b0: int,
        b1: int,
        payload: Any,
        seq: int,
        ts: int,
        keyframe: bool,
        now: float,
    ) -> None:
        if layer != self.current:
            if layer != self.target:
                return
            if not keyframe:
                self.gated += 1
                return
            self._switch(layer, seq, ts, now)
        link = self.holder.link
        if link is None:
            return
        out_seq = (seq + self.seq_offset) & 0xFFFF
        late = (out_seq - self.next_seq) & 0xFFFF >= 0x8000
        if late and (out_seq - self.first_out) & 0xFFFF >= 0x8000:
            return
        out_ts = (ts + self.ts_offset) & 0xFFFFFFFF  # type: ignore[operator]
        out = self._rewrite(payload, late)
        if self._forward(link, b0, b1, out_seq, out_ts, out, late, now) and self.probe_share:
            self._probe(link, 0x80 | (b0 & 0x20), (b1 & 0x80) | self.pt, out_seq, out_ts, out)

    def _probe(self, link: Any, b0: int, b1: int, seq: int, ts: int, payload: Any) -> None:
        """The packet just sent, again, as the probe's share asks (the receiver drops it)."""
        self.probe_credit += self.probe_share
        while self.probe_credit >= 1.0:
            self.probe_credit -= 1.0
            if not link.forward(b0, b1, seq, ts, self.ssrc, payload, self.max_queue_bytes):
                return
            self.copies += 1
            self.copy_bytes += len(payload)

    def send(self, *args: Any) -> None:  # pragma: no cover - layers call send_layer
        raise TypeError("a switching outlet is fed through its layer ports")

    def _switch(self, layer: int, seq: int, ts: int, now: float) -> None:
        """Take ``layer`` from this keyframe on, each number going on from the last sent."""
        self.current = layer
        self.waiting = False
        self.seq_offset = (self.next_seq - seq) & 0xFFFF
        self.first_out = self.next_seq
        if self.last_ts_out is None:
            self.ts_offset = (random.getrandbits(32) - ts) & 0xFFFFFFFF
        else:
            # the time between the last packet sent and this one, as the picture's clock
            gap = int((now - self.last_sent_at) * 90000) if self.last_sent_at else FRAME_TICKS
            self.ts_offset = (self.last_ts_out + max(gap, 1) - ts) & 0xFFFFFFFF
        self.pid_offset = self.tl0_offset = None  # set from this keyframe's descriptor
        self.switches += 1
        self.switched_at = time.monotonic()

    def _rewrite(self, payload: Any, late: bool) -> Any:
        """The VP8 payload descriptor with the picture id and TL0PICIDX re-based (a copy);
        the payload as it is when it carries neither."""
        if not payload or not payload[0] & 0x80 or len(payload) < 3 or not payload[1] & 0xC0:
            return payload
        out = bytearray(payload)
        x = out[1]
        pos = 2
        if x & 0x80:  # I: a picture id, 15 bits (M set) or 7
            wide = out[pos] & 0x80
            mask = 0x7FFF if wide else 0x7F
            pid = ((out[pos] & 0x7F) << 8 | out[pos + 1]) if wide else out[pos] & 0x7F
            if self.pid_offset is None:
                nxt = 0 if self.last_pid is None else self.last_pid + 1
                self.pid_offset = (nxt - pid) & mask
            new = (pid + self.pid_offset) & mask
            if wide:
                out[pos], out[pos + 1] = 0x80 | new >> 8, new & 0xFF
                pos += 2
            else:
                out[pos] = new
                pos += 1
            if not late:
                self.last_pid = new
        if x & 0x40:  # L: TL0PICIDX
            tl0 = out[pos]
            if self.tl0_offset is None:
                nxt = 0 if self.last_tl0 is None else self.last_tl0 + 1
                self.tl0_offset = (nxt - tl0) & 0xFF
            out[pos] = (tl0 + self.tl0_offset) & 0xFF
            if not late:
                self.last_tl0 = out[pos]
        return out

    def _drop(self) -> None:
        """The send queue is over its bound: drop, and start the layer again at a keyframe."""
        self.drops += 1
        if self.target is not None:
            self.current = None
            self.waiting = True
            self.track.request_layer_keyframe(self.target)  # type: ignore[attr-defined]

    def nack(self, lost: list[int]) -> None:
        """Resend from the current layer's ring what the subscriber lost since the switch."""
        self.nacks += 1
        link = self.holder.link
        layers = self.track.layers  # type: ignore[attr-defined]
        layer = None if self.current is None else layers[self.current]
        if link is None or layer is None or self.ts_offset is None:
            return
        for out_seq in lost:
            if (out_seq - self.first_out) & 0xFFFF >= 0x8000:
                continue  # sent from another layer, before the switch: gone
            data = layer.lookup((out_seq - self.seq_offset) & 0xFFFF)
            if data is None:
                layer.request_keyframe()
                return
            _, ts = _SEQ_TS.unpack_from(data, 2)
            off = payload_offset(data)
            out_ts = (ts + self.ts_offset) & 0xFFFFFFFF
            b0, b1 = 0x80 | (data[0] & 0x20), (data[1] & 0x80) | self.pt
            payload = self._rewrite(data[off:], True)
            link.forward(b0, b1, out_seq, out_ts, self.ssrc, payload, 1 << 30)
            self.retransmits += 1
