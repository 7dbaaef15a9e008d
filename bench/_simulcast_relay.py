"""An impaired link between one load peer and the SFU, in a process of its own.

Two UDP sockets on every address: the peer is told the server's ICE candidate is port A
(``bench/_simulcast_peers.relay_candidates``), the server is told the peer's is port B, so
every datagram of that peer's connection crosses here, both ways. Each direction is a
``tests/netimpair.py`` ``Lane`` (loss, then a token-bucket rate with a tail-drop queue, then
half the round trip as delay): the same impairment as the browser tests' relay, which sits in
front of a TURN server instead. Each side's address is learnt from its datagrams (the peer's
ICE checks reach A first; the server's reach B once it has the answer); a datagram for a side
not heard from yet is dropped, and ICE sends it again.

Prints ``RELAY <port A> <port B>``; on SIGTERM prints the counters as JSON and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.netimpair import Impairment, Lane

Address = tuple[str, int]


class Side(asyncio.DatagramProtocol):
    """One of the two sockets: what arrives goes into ``lane``; ``peer`` is who sends here."""

    def __init__(self, on_datagram: Callable[[bytes], None]) -> None:
        self.on_datagram = on_datagram
        self.peer: Address | None = None
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.peer = addr
        self.on_datagram(data)

    def send(self, data: bytes) -> None:
        if self.peer is not None and self.transport is not None:
            self.transport.sendto(data, self.peer)


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--loss", type=float, default=0.03)
    p.add_argument("--rtt-ms", type=float, default=150)
    p.add_argument("--rate-kbps", type=float, default=500)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    imp = Impairment(loss=args.loss, rtt_ms=args.rtt_ms, rate_kbps=args.rate_kbps)
    rng = random.Random(args.seed)
    lanes: dict[str, Lane] = {}
    peer_side = Side(lambda data: lanes["up"].push(data))
    server_side = Side(lambda data: lanes["down"].push(data))
    lanes["up"] = Lane(imp, server_side.send, rng)
    lanes["down"] = Lane(imp, peer_side.send, rng)
    loop = asyncio.get_running_loop()
    a, _ = await loop.create_datagram_endpoint(lambda: peer_side, local_addr=("0.0.0.0", 0))
    b, _ = await loop.create_datagram_endpoint(lambda: server_side, local_addr=("0.0.0.0", 0))
    print(f"RELAY {a.get_extra_info('sockname')[1]} {b.get_extra_info('sockname')[1]}", flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    a.close()
    b.close()
    print(json.dumps({name: vars(lane.counters) for name, lane in lanes.items()}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
