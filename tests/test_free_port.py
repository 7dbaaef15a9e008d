"""``free_port`` (``bench/_client.py``; the tests take it through ``tests.helpers``) never
gives the same port twice in a process, though the kernel may hand a port just closed out
again (a CI run's cluster test got one port for two nodes). The kernel's choice is stood in
for by a socket that names the ports it is told to, seen by ``_client`` alone: the real
``socket`` module is left as it is for the worker's threads."""

from __future__ import annotations

import socket
from types import SimpleNamespace
from typing import Any

import _client
import pytest

from tests import helpers


class _Kernel:
    """Sockets whose ``bind(0)`` gets the next port of a list, as a kernel might give them."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = iter(ports)

    def __call__(self, *args: Any) -> Any:
        port = next(self.ports)

        class Bound:
            def __enter__(self) -> Bound:
                return self

            def __exit__(self, *exc: object) -> None:
                return None

            def bind(self, address: tuple[str, int]) -> None:
                return None

            def getsockname(self) -> tuple[str, int]:
                return ("127.0.0.1", port)

        return Bound()


def _kernel(monkeypatch: pytest.MonkeyPatch, ports: list[int]) -> None:
    monkeypatch.setattr(_client, "_PORTS_GIVEN", set())
    fake = SimpleNamespace(
        socket=_Kernel(ports),
        AF_INET=socket.AF_INET,
        SOCK_STREAM=socket.SOCK_STREAM,
        SOCK_DGRAM=socket.SOCK_DGRAM,
    )
    monkeypatch.setattr(_client, "socket", fake)


def test_a_port_handed_out_again_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    _kernel(monkeypatch, [41000, 41000, 41001])
    assert [helpers.free_port(), helpers.free_port()] == [41000, 41001]


def test_tcp_and_udp_are_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    _kernel(monkeypatch, [41000, 41000])
    assert helpers.free_port() == 41000
    assert helpers.free_port(socket.SOCK_DGRAM) == 41000
