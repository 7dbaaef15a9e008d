"""Guard: the aiortc/aioice internals the SFU hooks into still exist with the shapes it uses.

If this fails after an aiortc upgrade, signaling/sfu/aiortc_hook/ must be revisited before
anything else (the forwarding path would silently stop, or fall back to decoding).
"""

from __future__ import annotations

import importlib.metadata

import aiortc
import pytest
from _ice import local_configuration
from aiortc import RTCPeerConnection
from aiortc.rtcdtlstransport import RTCDtlsTransport

from signaling.sfu.aiortc_hook import InternalsChanged, check_internals
from signaling.sfu.aiortc_hook.receiving import intercept_rtp
from signaling.sfu.aiortc_hook.sending import send_link
from signaling.sfu.aiortc_hook.transceivers import (
    dtls_transport,
    last_sender_report,
    set_msid,
    update_sender_report,
)


def test_aiortc_version_is_the_pinned_one() -> None:
    version = importlib.metadata.version("aiortc")
    assert version.startswith("1.16."), f"aiortc {version}: re-check aiortc_hook, then re-pin"


def test_private_hook_points_have_the_expected_shape() -> None:
    check_internals()


def test_guard_notices_a_missing_hook_point(monkeypatch: pytest.MonkeyPatch) -> None:
    async def changed(self: RTCDtlsTransport, data: bytes) -> None:  # arrival time gone
        return None

    monkeypatch.setattr(RTCDtlsTransport, "_handle_rtp_data", changed)
    with pytest.raises(InternalsChanged, match="_handle_rtp_data"):
        check_internals()


async def test_instance_hooks_land_on_real_objects() -> None:
    pc = RTCPeerConnection(local_configuration())
    try:
        t = pc.addTransceiver("video", direction="sendonly")
        dtls = dtls_transport(pc)
        assert dtls._tx_srtp is None and dtls._rx_srtp is None  # set by the DTLS handshake
        assert send_link(dtls) is None  # not connected yet
        seen: list[bytes] = []
        intercept_rtp(dtls, lambda data: seen.append(data) is None)
        await dtls._handle_rtp_data(b"\x80" * 12, arrival_time_ms=0)
        assert seen == [b"\x80" * 12]
        set_msid(t.sender, "stream", "track")
        offer = await pc.createOffer()
        assert "a=msid:stream track" in offer.sdp
        update_sender_report(t.sender, packets=3, octets=300, rtp_timestamp=9, sent_at=1.0)
        assert t.sender._RTCRtpSender__packet_count == 3
        assert last_sender_report(t.receiver, 1234) == (0, 0)
        assert isinstance(aiortc.codecs.CODECS["video"], list)
    finally:
        await pc.close()


async def test_the_sfus_receivers_carry_no_bandwidth_estimator() -> None:
    # Each would be ~1,000 small objects per video receiver, kept for the connection's life:
    # they fragmented the heap as participants came and went (bench/media.py --cycles).
    from signaling.sfu import Sfu
    from tests.sfu_peers import Client, clip_tracks
    from tests.waiting import wait_for

    sfu = Sfu(ice_servers=[])
    alice, bob = Client(sfu, "alice", clip_tracks()), Client(sfu, "bob")
    try:
        for c in (alice, bob):
            await c.join()
            await sfu.set_room(c.id, "main")

        def flowing() -> bool:
            return bob.count_of("alice", "camera") > 5

        await wait_for(flowing)
        assert len(sfu.peer_connection("bob").getTransceivers()) > 3  # bob's slots too
        for peer_id in ("alice", "bob"):
            for t in sfu.peer_connection(peer_id).getTransceivers():
                assert t.receiver._RTCRtpReceiver__remote_bitrate_estimator is None
    finally:
        for c in (alice, bob):
            await c.close()
        await sfu.close()
