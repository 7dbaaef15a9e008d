"""Send batching (signaling/sfu/batch.py): what one turn of the event loop forwards leaves in
one sendmmsg, byte for byte and in order, to IPv4 and IPv6 peers, on the loop's next turn."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from signaling.sfu import batch
from tests.waiting import wait_for


class Collect(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: list[bytes] = []
        self.arrived = asyncio.Event()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.got.append(data)
        self.arrived.set()


async def _pair(family: int, host: str) -> tuple[Any, Any, Collect, Any]:
    loop = asyncio.get_running_loop()
    rx_transport, rx = await loop.create_datagram_endpoint(
        Collect, local_addr=(host, 0), family=family
    )
    tx_transport, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=(host, 0), family=family
    )
    return tx_transport, rx_transport, rx, rx_transport.get_extra_info("sockname")


def _fill(b: batch.SendBatch, payload: bytes) -> None:
    index = b.count
    b.slots[index][0 : len(payload)] = payload
    b.added(index, len(payload))


async def _wait_for(rx: Collect, count: int) -> None:
    await wait_for(lambda: len(rx.got) >= count, 10, what=f"{count} packets received")


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


ADDRESSES = [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]


@pytest.mark.parametrize(("family", "host"), ADDRESSES)
async def test_a_burst_leaves_in_one_call_in_order(family: int, host: str) -> None:
    if family == socket.AF_INET6 and not _has_ipv6_loopback():
        # an environment without ::1 (IPv6 disabled in the kernel); the IPv4 case still runs
        pytest.skip("this host has no IPv6 loopback address (::1) to send to")
    tx, rx_transport, rx, addr = await _pair(family, host)
    try:
        b = batch.SendBatch.create(tx.get_extra_info("socket"), addr, tx)
        assert b is not None
        packets = [bytes([i]) * (100 + i) for i in range(10)]
        for p in packets:
            _fill(b, p)
        assert b.count == 10 and rx.got == []  # held until the loop's callbacks run
        await asyncio.sleep(0)
        assert b.count == 0
        await _wait_for(rx, 10)
        assert rx.got == packets
    finally:
        tx.close()
        rx_transport.close()


@pytest.fixture
async def ipv4() -> AsyncIterator[tuple[batch.SendBatch, Collect]]:
    """A batch from one IPv4 socket to a collecting one."""
    tx, rx_transport, rx, addr = await _pair(socket.AF_INET, "127.0.0.1")
    b = batch.SendBatch.create(tx.get_extra_info("socket"), addr, tx)
    assert b is not None
    yield b, rx
    tx.close()
    rx_transport.close()


async def test_a_full_batch_is_sent_at_once_and_the_next_one_starts(ipv4) -> None:
    b, rx = ipv4
    packets = [i.to_bytes(2, "big") * 50 for i in range(batch.SLOTS + 3)]
    for p in packets:
        _fill(b, p)
    assert b.count == 3  # the first SLOTS left when the batch filled
    await asyncio.sleep(0)
    await _wait_for(rx, len(packets))
    assert rx.got == packets


async def test_a_single_packet_is_not_held_longer_than_a_loop_turn(ipv4) -> None:
    b, rx = ipv4
    _fill(b, b"late")
    await asyncio.sleep(0)
    await _wait_for(rx, 1)
    assert rx.got == [b"late"]


async def test_a_closed_socket_loses_the_batch_quietly() -> None:
    tx, rx_transport, rx, addr = await _pair(socket.AF_INET, "127.0.0.1")
    b = batch.SendBatch.create(tx.get_extra_info("socket"), addr, tx)
    assert b is not None
    tx.close()
    await asyncio.sleep(0)
    _fill(b, b"gone")
    batch.flush_pending()  # no descriptor any more: UDP semantics, the packet is lost
    await asyncio.sleep(0.05)
    assert rx.got == []
    rx_transport.close()


def test_no_batch_for_an_unknown_address_family() -> None:
    assert batch.SendBatch.create(None, ("127.0.0.1", 1), None) is None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        assert batch.SendBatch.create(s, ("not-an-address", 1), None) is None
