"""Simulcast: a camera sent as three RTP streams, and the track that stands for all three.

The server makes every offer. On the camera's publishing m-line it asks for three encodings
by rid (``offer_simulcast``): ``h`` at full size, ``m`` at half, ``l`` at a quarter; Chromium
and Firefox answer ``a=simulcast:send h;m;l`` and create the three encodings themselves (the
page sets their sizes and bitrates, ``web/static/js/media.js``). The answer names no SSRC for
them: each stream's first packets carry their rid in an RTP header extension (RFC 8852), and
``rid_of`` reads it once per new SSRC, off the per-packet path.

``SimulcastTrack`` stands where a plain ``InboundTrack`` stands for the rest of the SFU (slots,
taps, stats, the ticker): one per camera, holding one ``InboundTrack`` per layer, each with its
own ring, NACKs and keyframe requests. Each subscriber gets one layer at a time through a
``switching.SwitchingOutlet``; which one is ``allocation.allocate``'s choice. A recorder taps the
best layer flowing when it starts (see ``sinks``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from signaling.sfu.inbound import InboundTrack

if TYPE_CHECKING:
    from signaling.sfu.switching import SwitchingOutlet

RIDS = ("h", "m", "l")  # best first: a layer's index is its place here
RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
# The header extension id the offer gives the rid. aiortc's own offer uses 1 (mid), 2 (audio
# level) and 3 (abs-send-time); one-byte ids run to 14, and a BUNDLE group shares them all.
RID_EXT_ID = 4
# What each layer is sent at (the page's encodings say the same), for the allocation before
# a layer's bitrate has been measured.
NOMINAL_BPS = (1_100_000, 300_000, 100_000)
LAYER_HEIGHT = (720, 360, 180)
MIN_FPS = 5.0  # below this at best, frame rates say nothing yet
STARVED = 0.5  # a layer under this share of the best layer's frame rate is not offered
SILENT_S = 1.5  # a layer that sent nothing for this long is not offered (a frame at 1 fps, late)


def offer_simulcast(sdp: str) -> str:
    """Ask for the camera (the offer's second m-line, where every browser publishes its
    camera) in three rid layers."""
    sections = re.split(r"(?=^m=)", sdp, flags=re.M)
    if len(sections) < 3 or not sections[2].startswith("m=video"):
        return sdp
    camera = sections[2]
    eol = "\r\n" if camera.endswith("\r\n") else "\n"
    lines = [f"a=extmap:{RID_EXT_ID} {RID_URI}"]
    lines += [f"a=rid:{rid} recv" for rid in RIDS]
    lines.append(f"a=simulcast:recv {';'.join(RIDS)}")
    sections[2] = camera + eol.join(lines) + eol
    return "".join(sections)


def answered_simulcast(sdp: str) -> int | None:
    """The rid extension id if the answer's camera m-line sends simulcast, else None."""
    sections = re.split(r"(?=^m=)", sdp, flags=re.M)
    if len(sections) < 3 or "a=simulcast:send" not in sections[2]:
        return None
    found = re.search(rf"^a=extmap:(\d+)(?:/\w+)? {re.escape(RID_URI)}", sections[2], re.M)
    return int(found.group(1)) if found else None


def rid_of(data: bytes, ext_id: int) -> str | None:
    """The rid a packet's header extension (RFC 8285, one- or two-byte form) carries."""
    if not data[0] & 0x10:
        return None
    pos = 12 + 4 * (data[0] & 0x0F)
    if pos + 4 > len(data):
        return None
    profile = (data[pos] << 8) | data[pos + 1]
    end = pos + 4 + 4 * ((data[pos + 2] << 8) | data[pos + 3])
    pos += 4
    if end > len(data):
        return None
    two_byte = (profile & 0xFFF0) == 0x1000
    if profile != 0xBEDE and not two_byte:
        return None
    while pos < end:
        if data[pos] == 0:  # a padding byte, in either form
            pos += 1
            continue
        if two_byte:
            if pos + 2 > end:
                return None
            ident, length = data[pos], data[pos + 1]
            pos += 2
        else:
            ident, length = data[pos] >> 4, (data[pos] & 0x0F) + 1
            pos += 1
            if ident == 15:
                return None
        if ident == ext_id:
            return bytes(data[pos : pos + length]).decode("ascii", "replace")
        pos += length
    return None


class SimulcastTrack:
    """A camera published as rid layers (see the module docstring)."""

    is_video = True
    kind = "video"
    codec = "VP8"
    held = False
    nack = None  # each layer asks for its own losses

    def __init__(
        self,
        peer_id: str,
        label: str,
        rid_ext_id: int,
        *,
        make_layer: Callable[[str, int, Callable[[InboundTrack], None]], InboundTrack],
        on_first_packet: Callable[[Any], None],
    ) -> None:
        self.peer_id = peer_id
        self.label = label
        self.track_id = f"{peer_id}:{label}"
        self.rid_ext_id = rid_ext_id
        self.layers: list[InboundTrack | None] = [None] * len(RIDS)
        self.outlets: tuple[SwitchingOutlet, ...] = ()
        self.taps: tuple[Any, ...] = ()
        self._sinks: tuple[Any, ...] = ()
        self._recorded: InboundTrack | None = None
        self._make_layer = make_layer
        self._on_first_packet = on_first_packet
        # Told when a better layer than the recorded one starts (the SFU re-announces the
        # track to its taps, and a recorder begins a new segment on the better layer).
        self.on_better_layer: Callable[[SimulcastTrack], None] | None = None
        self.live = False
        self.last_packet_at = 0.0

    # --- layers -----------------------------------------------------------------------

    def learn(self, ssrc: int, data: bytes) -> InboundTrack | None:
        """A packet on an SSRC not seen before: the layer it names, made now (None if it
        names none of ours)."""
        rid = rid_of(data, self.rid_ext_id)
        if rid not in RIDS:
            return None
        index = RIDS.index(rid)
        old = self.layers[index]
        if old is not None:
            old.close()  # the browser restarted that encoding on a new SSRC
        layer = self._make_layer(rid, ssrc, self._layer_live)
        layer.outlets = tuple(o.ports[index] for o in self.outlets)
        self.layers[index] = layer
        if old is not None and old is self._recorded:
            self._recorded = None
            self.sinks = self._sinks
        return layer

    def _layer_live(self, layer: InboundTrack) -> None:
        if self._sinks and self._recorded is None:
            self.sinks = self._sinks
        elif (
            self._recorded is not None
            and self.on_better_layer is not None
            and self.layers.index(layer) < self.layers.index(self._recorded)
        ):
            self.on_better_layer(self)
        for outlet in self.outlets:
            outlet.layer_appeared()
        if not self.live:
            self.live = True
            self._on_first_packet(self)

    def flowing(self) -> list[int]:
        """The indexes of the layers that send now, at a frame rate worth watching. A browser
        starves its top layer when its own uplink or its CPU is short (a few frames a second,
        or none): a subscriber is better served by a smaller picture that moves."""
        # A layer turned off sends nothing, and its smoothed rate takes seconds to fall: by
        # then a subscriber waiting on it has seen its picture freeze (a loaded CI machine,
        # every layer slow, the top one off: the frame rates alone offered it still).
        now = time.monotonic()
        live = [
            i
            for i, layer in enumerate(self.layers)
            if layer is not None and layer.live and now - layer.last_packet_at < SILENT_S
        ]
        rates = {i: self.layers[i].fps for i in live}  # type: ignore[union-attr]
        best = max(rates.values(), default=0.0)
        if best < MIN_FPS:
            return live  # not measured yet, or everything slow: all there is
        return [i for i in live if rates[i] >= STARVED * best]

    @property
    def recorded_rid(self) -> str | None:
        """The layer a recorder is given (None: no recorder, or no layer yet)."""
        for index, layer in enumerate(self.layers):
            if layer is not None and layer is self._recorded:
                return RIDS[index]
        return None

    def layer_bps(self, index: int) -> float:
        layer = self.layers[index]
        measured = layer.bitrate_avg if layer is not None else 0.0
        return measured if measured > 0 else NOMINAL_BPS[index]

    def request_layer_keyframe(self, index: int) -> None:
        layer = self.layers[index]
        if layer is not None:
            layer.request_keyframe()

    # --- what a plain InboundTrack offers the rest of the SFU -----------------------------

    @property
    def sinks(self) -> tuple[Any, ...]:
        return self._sinks

    @sinks.setter
    def sinks(self, sinks: tuple[Any, ...]) -> None:
        """A recorder gets the best layer flowing when its sink arrives (a browser's top
        layer often starts a few seconds after its lowest, as its bandwidth estimate grows),
        and keeps it within a segment: a file's timeline is one stream's. When a better
        layer starts, ``on_better_layer`` has the track announced afresh: a new segment."""
        self._sinks = sinks
        if self._recorded is not None:
            self._recorded.sinks = sinks
            if not sinks:
                self._recorded = None
            return
        best = next((self.layers[i] for i in self.flowing()), None)
        if best is not None and sinks:
            best.sinks = sinks
            self._recorded = best

    def add_outlet(self, outlet: SwitchingOutlet) -> None:
        self.outlets = (*self.outlets, outlet)
        for index, layer in enumerate(self.layers):
            if layer is not None:
                layer.outlets = (*layer.outlets, outlet.ports[index])

    def remove_outlet(self, outlet: Any) -> None:
        self.outlets = tuple(o for o in self.outlets if o is not outlet)
        for layer in self.layers:
            if layer is not None:
                layer.outlets = tuple(
                    p for p in layer.outlets if getattr(p, "outlet", None) is not outlet
                )

    def lookup(self, seq: int) -> bytes | None:
        return None  # each layer keeps its own ring (switching.SwitchingOutlet.nack)

    def request_keyframe(self) -> None:
        for layer in self.layers:
            if layer is not None:
                layer.request_keyframe()

    def tick(self) -> None:
        for layer in self.layers:
            if layer is not None:
                layer.tick()
        for outlet in self.outlets:
            if outlet.waiting and outlet.holder.link and outlet.target is not None:
                self.request_layer_keyframe(outlet.target)

    def sample_bitrate(self, now: float) -> None:
        for layer in self.layers:
            if layer is not None:
                layer.sample_bitrate(now)

    def close(self) -> None:
        self.outlets = ()
        for layer in self.layers:
            if layer is not None:
                layer.close()

    def _sum(self, name: str) -> Any:
        return sum(getattr(layer, name) for layer in self.layers if layer is not None)

    packets_in = property(lambda self: self._sum("packets_in"))
    bytes_in = property(lambda self: self._sum("bytes_in"))
    frames_in = property(lambda self: self._sum("frames_in"))
    keyframes_in = property(lambda self: self._sum("keyframes_in"))
    keyframe_requests = property(lambda self: self._sum("keyframe_requests"))
    malformed = property(lambda self: self._sum("malformed"))
    bitrate_bps = property(lambda self: self._sum("bitrate_bps"))


Published = InboundTrack | SimulcastTrack  # what a publisher's ``Peer.inbound`` holds
