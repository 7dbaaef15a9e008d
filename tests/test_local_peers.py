"""The aiortc peers of the tests and the benches ask no server outside this machine for ICE
candidates (``bench/_ice.py``): aiortc's default is Google's public STUN server, whose name
lookup on a slow resolver held every connection up to 5 s and a test's teardown 40 s.

Each kind of peer gathers its candidates for real, with the name lookup that aioice makes
replaced by one that writes down what it was asked and fails."""

from __future__ import annotations

import argparse
import socket
from collections.abc import Awaitable, Callable

import pytest
from _media_peers import LeanPeer
from aiortc import RTCPeerConnection

from tests.sfu_peers import Client
from tests.test_signaling_ws import WsPeer


async def _pc_of_ws_peer() -> RTCPeerConnection:
    peer = WsPeer(None, "ws://127.0.0.1:9/", media=False)  # type: ignore[arg-type]
    await peer._new_pc()
    assert peer.pc is not None
    return peer.pc


async def _pc_of_hub_client() -> RTCPeerConnection:
    return Client(None, "p1").pc  # type: ignore[arg-type]


async def _pc_of_bench_peer() -> RTCPeerConnection:
    args = argparse.Namespace(publish=False)
    return LeanPeer("p1", "room", args, ([], [], [])).pc


@pytest.mark.parametrize("make", [_pc_of_ws_peer, _pc_of_hub_client, _pc_of_bench_peer])
async def test_a_peer_gathers_on_this_machine_alone(
    make: Callable[[], Awaitable[RTCPeerConnection]], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def lookup(name: str) -> str:
        asked.append(name)
        raise socket.gaierror(socket.EAI_NONAME, "not looked up in a test")

    monkeypatch.setattr(socket, "gethostbyname", lookup)
    pc = await make()
    try:
        pc.addTransceiver("audio")
        await pc.setLocalDescription(await pc.createOffer())  # gathers, STUN included
        assert "typ host" in pc.localDescription.sdp
    finally:
        await pc.close()
    assert asked == [], f"the peer looked up {asked} for ICE"
