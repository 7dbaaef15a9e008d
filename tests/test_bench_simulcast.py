"""``bench/media.py --simulcast --constrained 1`` (issue 18 part 5): the pieces the lean
simulcast peers build on, and one short run of the bench that checks its JSON.

No timing and no target is asserted (the figures are bench/README.md's): the run checks that
the keys are there with sane values, that frames arrived, that the unconstrained
subscribers end on a layer and that the constrained one ends below the top layer (the SFU's
own view: on ``m`` or ``l``, or paused).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import _simulcast
import pytest
from _simulcast_peers import relay_candidates, rid_extension

from signaling.sfu.simulcast import RID_EXT_ID, rid_of

ROOT = Path(__file__).resolve().parents[1]

KEYS = {
    "constrained_subscriber_fps",
    "constrained_subscriber_layer",
    "unconstrained_subscriber_fps",
    "unconstrained_subscriber_layer",
    "layer_switch_s_p95",
    "audio_loss_constrained",
}
LAYERS = {"h", "m", "l", "paused"}


def test_the_rid_extension_is_what_the_sfu_reads() -> None:
    for rid in ("h", "m", "l"):
        ext = rid_extension(RID_EXT_ID, rid)
        assert len(ext) % 4 == 0 and ext[:2] == b"\xbe\xde"
        header = bytes([0x90, 96]) + b"\0" * 10  # V=2, X=1
        assert rid_of(header + ext + b"\x90\x80\x80\x01", RID_EXT_ID) == rid


def test_the_relay_takes_the_place_of_the_candidates() -> None:
    sdp = (
        "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 96\r\n"
        "a=candidate:1 1 udp 2130706431 192.0.2.2 41000 typ host\r\n"
        "a=candidate:2 1 udp 2130706431 fd00::2 41001 typ host\r\n"
        "a=candidate:3 1 udp 2130706431 192.0.2.3 41002 typ host\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 97\r\n"
        "a=candidate:1 1 udp 2130706431 192.0.2.2 41000 typ host\r\n"
    )
    out = relay_candidates(sdp, 5000)
    lines = [line for line in out.splitlines() if line.startswith("a=candidate")]
    assert lines == ["a=candidate:1 1 udp 2130706431 192.0.2.2 5000 typ host"] * 2


def test_time_to_the_low_layer_counts_from_the_last_switch_there() -> None:
    args = type("Args", (), {"height": 720})()
    keys = [[1.0, 720], [3.0, 180], [4.0, 360], [6.5, 180], [8.0, 180]]
    assert _simulcast.time_to_low(args, 0.5, keys) == 6.0
    assert _simulcast.time_to_low(args, 0.5, keys[:3]) is None  # ends on m
    # on l, paused from 7 s to 20 s, then on l again from its keyframe at 20 s
    frames = [6.9, 7.0, 20.0, 20.1]
    again = [*keys, [20.0, 180]]
    assert _simulcast.time_to_low(args, 0.5, again, frames) == 19.5


@pytest.mark.slow
@pytest.mark.serial
def test_a_short_constrained_run_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "simulcast.json"
    argv = [
        sys.executable, str(ROOT / "bench" / "media.py"), "--simulcast", "--constrained", "1",
        "--seconds", "8", "--warmup", "0", "--grace", "1", "--width", "640", "--height", "360",
        "--kbps", "800", "--cache", str(ROOT / "var" / "bench-cache"), "--json", str(out),
    ]  # fmt: skip
    subprocess.run(argv, cwd=ROOT, check=True, timeout=300, stdout=subprocess.DEVNULL)
    result = json.loads(out.read_text())
    assert set(result) >= KEYS
    assert result["unconstrained_subscriber_layer"] in {"h", "m", "l"}
    assert result["unconstrained_subscriber_fps"] > 0  # frames arrived
    assert result["constrained_subscriber_layer"] in LAYERS
    fps = result["constrained_subscriber_fps"]
    assert fps is None or fps >= 0
    assert 0 <= result["audio_loss_constrained"] <= 1
    p95 = result["layer_switch_s_p95"]
    assert p95 is None or p95 >= 0
    (run,) = result["rounds"]
    assert len(run["layer_switch_s"]) == 3  # the constrained subscriber got each camera
    assert set(run["constrained_subscriber_layers_sfu"]) <= {"m", "l", "paused"}
    assert run["relay_counters"][0]["down"]["delivered"] > 0
    # The constrained link's loss reached the publishers in the SFU's reports, and their
    # audio went over to in-band FEC (signaling/sfu/opus.py).
    assert all(s and s[0][1] for s in run["publisher_fec_switches"].values()), run[
        "publisher_fec_switches"
    ]
