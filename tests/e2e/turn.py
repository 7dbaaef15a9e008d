"""A TURN server (Debian's coturn) on loopback for the browser tests that put a party behind
an impaired network: the party's browser is forced to relay through it (``FORCE_RELAY``),
and a userspace impairment relay (tests/netimpair.py) sits in front of it."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import free_port

TURNSERVER = Path(os.environ.get("COURTLINK_TURNSERVER", "/usr/bin/turnserver"))

# The party's browser may reach the SFU only through the TURN server behind the relay.
FORCE_RELAY = """(turn) => {
    const Native = window.RTCPeerConnection;
    window.RTCPeerConnection = function (config) {
        return new Native({ ...(config || {}), iceServers: [turn], iceTransportPolicy: "relay" });
    };
    window.RTCPeerConnection.prototype = Native.prototype;
}"""


def _host_address() -> str:
    """This machine's address on its network (where the SFU's ICE candidates are)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the route
        except OSError:  # no route off the machine: the SFU has loopback only
            return "127.0.0.1"
        return str(sock.getsockname()[0])


@pytest.fixture
def turn(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """coturn on a free loopback port, relaying from this machine's address."""
    if not TURNSERVER.exists():
        # A missing install step, never a skip: `make test` installs it before running.
        pytest.fail(f"{TURNSERVER} missing: `make coturn` (apt-get install coturn) installs it")
    port, low = free_port(socket.SOCK_DGRAM), 20000 + (os.getpid() % 200) * 100
    address = _host_address()
    log = tmp_path / "turnserver.log"
    out = log.open("wb")
    proc = subprocess.Popen(
        [str(TURNSERVER), "-n", "--listening-ip=127.0.0.1", f"--listening-port={port}",
         f"--relay-ip={address}", f"--min-port={low}", f"--max-port={low + 99}",
         "--no-tls", "--no-dtls", "--no-cli", "--lt-cred-mech", "--user=party:bad-network",
         "--realm=courtlink", "--log-file=stdout", "--simple-log",
         f"--pidfile={tmp_path / 'turnserver.pid'}", f"--userdb={tmp_path / 'turndb'}",
         *(["--allow-loopback-peers"] if address.startswith("127.") else [])],
        stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    out.close()  # the child has its own copy
    try:
        for _ in range(600):  # its log says when its listeners are up
            if "Total General servers" in log.read_text(errors="replace"):
                break
            assert proc.poll() is None, log.read_text()
            time.sleep(0.05)
        else:
            raise AssertionError(f"coturn never started: {log.read_text()}")
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(10)
