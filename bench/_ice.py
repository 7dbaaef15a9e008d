"""The ICE configuration of every aiortc peer that the benches and the tests run against a
server on this machine: host candidates only, no STUN or TURN server.

aiortc's default (``iceServers`` left out) is Google's public STUN server. Each peer then looks
its name up on a thread of the loop's default executor and waits up to 5 s for an answer from
outside. Where the machine's resolver is slow, that wait lands in every connection a test
makes, and closing the loop joins the thread still blocked in the lookup: one test's teardown
took 40 s. The server's own peers take ``settings.ice_servers``, empty unless a court sets one.
"""

from __future__ import annotations

from typing import Any

from aiortc import RTCConfiguration


def local_configuration(**options: Any) -> RTCConfiguration:
    """``RTCConfiguration(**options)`` with no ICE server: a peer on this machine's loopback."""
    return RTCConfiguration(iceServers=[], **options)
