"""Which video a subscriber gets: each forwarded camera's layer, or a pause (``allocate``,
every second and whenever the view, the mode or a track changes), within its downlink's
estimate (``downlink.Downlink``).

Audio first, always: it is never dropped, and its cost (its copies too, on a lossy link, for
a stream without in-band FEC: ``opus.py``) comes off the estimate before any video. Then,
within what is left, each video in priority order (a screen share before cameras, bigger
tiles before smaller) gets the lowest layer it can have, and then better layers one step at
a time while they fit: no better than its tile needs (a small tile never gets 720p), only
``l`` in low-bandwidth mode, none in audio-only mode. A layer better than the one being
forwarded, or a camera back from a pause, must fit with ``UPGRADE_MARGIN`` to spare, and the
layer being sent is kept until it is short by that margin, so the choice does not flap. A
simulcast camera whose lowest layer does not fit is paused and its tile says so. A camera
without layers (a browser that did not answer simulcast, a test's aiortc peer) cannot step
down: it is paused only in audio-only mode, never for bandwidth, since pausing the one
stream there is on random loss would blank a picture that still arrives mostly whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from signaling.sfu.downlink import RTP_OVERHEAD, Downlink
from signaling.sfu.simulcast import SimulcastTrack
from signaling.sfu.switching import SwitchingOutlet

UPGRADE_MARGIN = 1.15
COPY_AFTER_S = 0.04  # an audio copy follows by two Opus frames: a burst that took one spares it
# Beyond the payload: audio's 50 packets a second each carry RTP_OVERHEAD; video's packets
# are large, and its layers are costed by their payload with a small share more.
AUDIO_OVERHEAD_BPS = 50 * RTP_OVERHEAD * 8
VIDEO_OVERHEAD = 1.03
MODES = ("full", "low", "audio")
PROBE_SHARE_MAX = 3.0  # duplicates per packet sent, at most, while a probe runs


def _priority(downlink: Downlink, outlet: Any) -> tuple[int, int]:
    track = outlet.track
    return (0 if track.label == "screen" else 1, -downlink.heights.get(track.peer_id, 10_000))


def allocate(downlink: Downlink, audio: Iterable[Any], video: Iterable[Any]) -> None:
    """Give each of the subscriber's video outlets its layer (see the module docstring)."""
    audio = list(audio)
    for outlet in audio:
        outlet.link_loss = downlink.link_loss  # the publisher hears of it (opus.py)
        # A stream with in-band FEC mends its own losses: copies only for one without.
        copy = downlink.protect_audio and not outlet.track.carries_fec
        outlet.copy_after = COPY_AFTER_S if copy else 0.0
    budget = downlink.estimate - sum(
        (2 if o.copy_after else 1) * (o.track.bitrate_bps + AUDIO_OVERHEAD_BPS) for o in audio
    )
    plain: list[Any] = []
    layered: list[SwitchingOutlet] = []
    for outlet in sorted(video, key=lambda o: _priority(downlink, o)):
        (layered if isinstance(outlet, SwitchingOutlet) else plain).append(outlet)
    for outlet in plain:
        audio_only = downlink.mode == "audio" and outlet.track.label == "camera"
        _pause_plain(outlet, audio_only)
        if not audio_only:
            budget -= outlet.track.bitrate_bps
    fixed = downlink.estimate - budget  # audio and cameras without layers
    choice: dict[int, int | None] = {}
    allowed: dict[int, list[int]] = {}
    for outlet in layered:
        track = cast(SimulcastTrack, outlet.track)
        best = 2 if downlink.mode == "low" else downlink.best_for_tile(track.peer_id)
        layers = [i for i in track.flowing() if i >= best]
        if not layers and track.flowing():
            layers = [max(track.flowing())]  # the tile wants less than any layer sent
        if downlink.mode == "audio":
            layers = []
        allowed[id(outlet)] = layers
        lowest = layers[-1] if layers else None
        cost = _cost(track, outlet, lowest)
        if lowest is not None and cost <= budget:
            choice[id(outlet)] = lowest
            budget -= cost
        else:
            choice[id(outlet)] = None
    stepped = True
    while stepped:
        stepped = False
        for outlet in layered:
            now, layers = choice[id(outlet)], allowed[id(outlet)]
            if now is None or now == layers[0]:
                continue
            better = layers[layers.index(now) - 1]
            extra = _cost(outlet.track, outlet, better) - _cost(outlet.track, outlet, now)
            if extra <= budget:
                choice[id(outlet)] = better
                budget -= extra
                stepped = True
    _probe_first(downlink, fixed, layered, choice)
    for outlet in layered:
        if cast(SimulcastTrack, outlet.track).flowing():  # nothing to choose before one flows
            outlet.retarget(choice[id(outlet)])
    paused = frozenset(
        o.track.peer_id for o in (*layered, *plain) if o.track.label == "camera" and _is_paused(o)
    )
    if paused != downlink.paused:
        downlink.paused = paused
        if downlink.on_paused is not None:
            downlink.on_paused(sorted(paused))


def _rate(outlet: SwitchingOutlet, layer: int | None) -> float:
    """What a layer puts on the link, without the margins of ``_cost``."""
    if layer is None:
        return 0.0
    return float(outlet.track.layer_bps(layer)) * VIDEO_OVERHEAD  # type: ignore[attr-defined]


def _probe_first(
    downlink: Downlink, fixed: float, layered: list[SwitchingOutlet], choice: dict[int, int | None]
) -> None:
    """Hold back the steps up that would send more than the link is known to carry, and ask
    the downlink to probe for them (``downlink`` module docstring, "Probes"); while a probe
    runs, share its rate out as duplicates over the cameras being sent."""
    sending = wanted = fixed
    ups: list[SwitchingOutlet] = []
    for outlet in layered:
        want, now = choice[id(outlet)], outlet.target
        sending += _rate(outlet, now)
        wanted += _rate(outlet, want)
        if want is not None and (now is None or want < now):
            ups.append(outlet)
    # With every camera paused there is no video to copy: a probe would send nothing more,
    # pass, and leave a ceiling measured while only audio went (the floor) where it was, the
    # pictures paused for good (seen in CI on a slow machine). The resume is then the probe,
    # at the layer the estimate allows; if the line cannot take it, the fall measures it.
    video_sent = sending > fixed
    if ups and wanted > sending and video_sent and not downlink.may_send(wanted):
        for outlet in ups:
            choice[id(outlet)] = outlet.target
        downlink.probe_for(sending, wanted)
    video = sum(_rate(o, choice[id(o)]) for o in layered)
    share = downlink.probe.bps / video if downlink.probing and video else 0.0
    for outlet in layered:
        live = choice[id(outlet)] is not None
        outlet.probe_share = min(share, PROBE_SHARE_MAX) if live else 0.0


def _cost(track: Any, outlet: SwitchingOutlet, layer: int | None) -> float:
    if layer is None:
        return 0.0
    bps = float(track.layer_bps(layer)) * VIDEO_OVERHEAD
    resuming = outlet.target is None and outlet.switches > 0
    if resuming or (outlet.current is not None and layer < outlet.current):
        bps *= UPGRADE_MARGIN  # a step up, or back from a pause, must fit with room to spare
    elif outlet.target == layer and outlet.current == layer:
        # The layer being sent is kept until it is short by more than the margin: its
        # measured rate rises for a while after each keyframe (one asked for this very
        # resume, too), and a picture paused and resumed every few seconds is worse than
        # either.
        bps /= UPGRADE_MARGIN
    return bps


def _is_paused(outlet: Any) -> bool:
    if isinstance(outlet, SwitchingOutlet):
        return outlet.target is None and bool(outlet.track.flowing())  # type: ignore[attr-defined]
    return outlet not in outlet.track.outlets


def _pause_plain(outlet: Any, pause: bool) -> None:
    """Take a camera without layers off its track (audio-only mode), or put it back: it
    starts again at a keyframe, its numbers going on from where they were."""
    present = outlet in outlet.track.outlets
    if pause and present:
        outlet.track.remove_outlet(outlet)
        outlet.waiting = True
    elif not pause and not present:
        outlet.waiting = True
        outlet.track.add_outlet(outlet)
