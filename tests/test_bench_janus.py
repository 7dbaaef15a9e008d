"""The pure pieces of ``bench/media.py --vs-janus`` (bench/_janus.py): the Janus configuration
it writes (loopback listeners only, nothing but the VideoRoom and the WebSocket transport)
and the exact keys of its JSON. No timing is asserted here; the figures are bench/README.md's.

The last test starts Debian's Janus on that configuration and is skipped where it is not
installed (`make bench-deps` installs it); the others need no Janus.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import _janus
import media
import psutil
import pytest


def parse_jcfg(text: str) -> dict[str, dict[str, str]]:
    """The flat sections the bench writes: ``name: {`` lines, ``key = value`` lines, ``}``."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in text.splitlines():
        if m := re.fullmatch(r"(\w+): \{", line):
            current = sections.setdefault(m[1], {})
        elif m := re.fullmatch(r"\t(\w+) = (.*)", line):
            current[m[1]] = m[2].strip('"')
        else:
            assert line == "}", line
    return sections


@pytest.fixture
def fake_lib(tmp_path: Path) -> Path:
    """A Janus library folder with what Debian ships beside the two modules the bench keeps."""
    lib = tmp_path / "lib"
    for folder, names in {
        "plugins": ["videoroom", "streaming", "sip", "echotest"],
        "transports": ["websockets", "http", "pfunix", "mqtt"],
        "loggers": ["jsonlog"],
        "events": ["sampleevh"],
    }.items():
        (lib / folder).mkdir(parents=True)
        for name in names:
            (lib / folder / f"libjanus_{name}.so").write_text("")
    return lib


def test_config_listens_on_loopback_only(tmp_path: Path, fake_lib: Path) -> None:
    files = _janus.janus_configs(tmp_path, 18188, (31000, 31999), "192.0.2.7", lib=fake_lib)
    assert set(files) == {
        "janus.jcfg",
        "janus.plugin.videoroom.jcfg",
        "janus.transport.websockets.jcfg",
    }
    ws = parse_jcfg(files["janus.transport.websockets.jcfg"])
    assert ws["general"]["ws"] == "true"
    assert ws["general"]["ws_ip"] == "127.0.0.1"
    assert ws["general"]["ws_port"] == "18188"
    assert ws["general"]["ws_acl"] == "127."
    assert ws["general"]["wss"] == "false"
    assert ws["admin"] == {"admin_ws": "false", "admin_wss": "false"}

    core = parse_jcfg(files["janus.jcfg"])
    assert core["general"]["configs_folder"] == str(tmp_path)
    plugins = set(core["plugins"]["disable"].split(","))
    assert plugins == {"libjanus_streaming.so", "libjanus_sip.so", "libjanus_echotest.so"}
    transports = set(core["transports"]["disable"].split(","))
    assert transports == {"libjanus_http.so", "libjanus_pfunix.so", "libjanus_mqtt.so"}
    assert core["loggers"]["disable"] == "libjanus_jsonlog.so"
    assert core["events"]["broadcast"] == "false"
    # media: one local address, no STUN/TURN/NAT mapping, no IPv6, a bounded port range
    assert core["nat"]["ice_enforce_list"] == "192.0.2.7"
    assert core["general"]["interface"] == "192.0.2.7"
    every_key = {key for section in core.values() for key in section}
    assert not every_key & {"stun_server", "turn_server", "nat_1_1_mapping", "turn_rest_api"}
    assert core["media"] == {"ipv6": "false", "rtp_port_range": "31000-31999"}


def _run(cpu: float, loss: float, p50: float) -> dict[str, Any]:
    return {
        "participants": 6,
        "width": 1280,
        "height": 720,
        "forwarded_video_streams": 30,
        "server_cpu_ms_per_stream_second": cpu,
        "frame_loss": loss,
        "forward_latency_ms_p50": p50,
        "forward_latency_ms_p95": p50 * 3,
        "forward_latency_ms_p99": None,
    }


def test_comparison_has_the_issues_keys() -> None:
    rounds = [
        {"courtlink": _run(5.0, 0.0, 1.0), "janus": _run(8.0, 0.01, 2.0)},
        {"courtlink": _run(7.0, 0.0, 1.0), "janus": _run(12.0, 0.03, 2.0)},
    ]
    size = media.comparison(rounds)
    assert size["server_cpu_ms_per_stream_second"] == 6.0
    assert size["janus_server_cpu_ms_per_stream_second"] == 10.0
    assert size["cpu_ratio_courtlink_over_janus"] == 0.6
    assert size["frame_loss"] == 0.0
    assert size["janus_frame_loss"] == 0.02
    assert size["forward_latency_ms_p99"] is None
    assert size["rounds"] == rounds

    top = media.headline({"3x640x480": size, "6x1280x720": size})
    assert top["headline_size"] == "6x1280x720"
    for key in (
        "server_cpu_ms_per_stream_second",
        "janus_server_cpu_ms_per_stream_second",
        "cpu_ratio_courtlink_over_janus",
        "frame_loss",
        "janus_frame_loss",
        "forward_latency_ms_p50",
        "janus_forward_latency_ms_p50",
        "forward_latency_ms_p95",
        "janus_forward_latency_ms_p95",
    ):
        assert top[key] == size[key], key
    assert media.parse_size("6x1280x720") == (6, 1280, 720)
    assert media.SIZES == ("3x640x480", "6x1280x720")


@pytest.mark.skipif(
    _janus.janus_binary() is None,
    reason="needs Debian's janus (`make bench-deps`); the config test above covers the files",
)
async def test_janus_starts_on_the_config_and_listens_on_loopback_only(tmp_path: Path) -> None:
    port = _janus.free_port()
    _janus.write_configs(tmp_path, port, (45000, 45099))
    argv = _janus.janus_argv(tmp_path, tmp_path / "janus.log")
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL)
    try:
        await _janus.wait_listening(port)
        await _janus.create_rooms(f"ws://127.0.0.1:{port}", ["room0"], 3)
        listening = [
            c.laddr
            for c in psutil.Process(proc.pid).net_connections("inet")
            if c.status == psutil.CONN_LISTEN
        ]
        assert listening == [("127.0.0.1", port)]
        # the room was made, so the VideoRoom loaded; the others were turned away
        log = (tmp_path / "janus.log").read_text()
        assert "Plugin 'libjanus_streaming.so' has been disabled" in log
        assert "Transport plugin 'libjanus_http.so' has been disabled" in log
    finally:
        proc.terminate()
        await proc.wait()
