"""Janus VideoRoom beside the SFU, for ``bench/media.py --vs-janus``.

Debian's ``janus`` (``make bench-deps``; the bench installs nothing) runs as a child process on
a configuration written here into a temporary directory: the VideoRoom plugin and the
WebSocket transport only, its API listener on 127.0.0.1, no STUN/TURN, no event handlers, no
loggers, no admin API, RTP in a fixed port range. Janus never gathers ICE candidates on a
loopback interface (it skips them, and with nothing left libnice falls back to every address),
so its media sockets are enforced onto this host's own IPv4 address: the one the courtlink
SFU's aiortc binds too (aioice skips 127.0.0.1 as well). Packets to a local address never leave
the machine; the kernel delivers them through ``lo``.

``JanusApi`` is the small client of Janus's JSON API over its WebSocket (requests matched to
answers by transaction, plugin events after their ack, keep-alives every 25 s) that both the
orchestrator (it creates the rooms) and the load peers (``bench/_janus_peers.py``) use.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import ifaddr

LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
LOOPBACK = "127.0.0.1"
PLUGIN = "libjanus_videoroom.so"
TRANSPORT = "libjanus_websockets.so"
KEEPALIVE_S = 25


def janus_binary() -> str | None:
    return shutil.which("janus")


def janus_version() -> str | None:
    """``janus --version``'s first line (``Janus version: 1102 (1.1.2)``), or None."""
    binary = janus_binary()
    if binary is None:
        return None
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    return out.stdout.splitlines()[0].strip() if out.stdout else None


def libraries(folder: Path) -> list[str]:
    """The module files Janus would load from ``folder`` (``libjanus_x.so``)."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".so"))


def host_address() -> str:
    """This host's first IPv4 address other than loopback, as aioice picks its host candidates
    (the load peers and the courtlink SFU use it)."""
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127."):
                return ip.ip
    raise RuntimeError("no IPv4 address besides loopback: Janus would have nowhere for media")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def _jcfg(sections: dict[str, dict[str, Any]]) -> str:
    """libconfig text (Janus's .jcfg) for flat sections of strings, numbers and booleans."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        return json.dumps(str(v))

    out = []
    for name, items in sections.items():
        body = "".join(f"\t{key} = {value(v)}\n" for key, v in items.items())
        out.append(f"{name}: {{\n{body}}}\n")
    return "".join(out)


def janus_configs(
    folder: Path,
    ws_port: int,
    rtp_ports: tuple[int, int],
    media_address: str,
    *,
    lib: Path = LIB,
    debug_level: int = 3,
) -> dict[str, str]:
    """The three files Janus reads from ``folder`` (``-F``), by name: the core, the VideoRoom
    plugin (no static rooms: the bench creates its own) and the WebSocket transport."""
    disable_plugins = [n for n in libraries(lib / "plugins") if n != PLUGIN]
    disable_transports = [n for n in libraries(lib / "transports") if n != TRANSPORT]
    core = {
        "general": {
            "configs_folder": str(folder),
            "plugins_folder": str(lib / "plugins"),
            "transports_folder": str(lib / "transports"),
            "events_folder": str(lib / "events"),
            "loggers_folder": str(lib / "loggers"),
            "debug_level": debug_level,
            "server_name": "courtlink-bench",
            "interface": media_address,  # the address Janus writes into its SDP
            "session_timeout": 60,
            "hide_dependencies": True,
        },
        "media": {
            "ipv6": False,
            "rtp_port_range": f"{rtp_ports[0]}-{rtp_ports[1]}",
        },
        "nat": {
            "nice_debug": False,
            "ice_enforce_list": media_address,
            "ignore_mdns": True,
        },
        "plugins": {"disable": ",".join(disable_plugins)},
        "transports": {"disable": ",".join(disable_transports)},
        "loggers": {"disable": ",".join(libraries(lib / "loggers"))},
        "events": {"broadcast": False},
    }
    videoroom = {"general": {"events": False}}
    websockets = {
        "general": {
            "json": "plain",
            "ws": True,
            "ws_port": ws_port,
            "ws_ip": LOOPBACK,
            "ws_acl": "127.",
            "wss": False,
        },
        "admin": {"admin_ws": False, "admin_wss": False},
    }
    return {
        "janus.jcfg": _jcfg(core),
        "janus.plugin.videoroom.jcfg": _jcfg(videoroom),
        "janus.transport.websockets.jcfg": _jcfg(websockets),
    }


def write_configs(folder: Path, ws_port: int, rtp_ports: tuple[int, int]) -> Path:
    """Write the configuration into ``folder``; the core file's path (``janus -C``)."""
    for name, text in janus_configs(folder, ws_port, rtp_ports, host_address()).items():
        (folder / name).write_text(text)
    return folder / "janus.jcfg"


def janus_argv(folder: Path, log: Path) -> list[str]:
    binary = janus_binary()
    if binary is None:
        raise RuntimeError("janus is not installed: `make bench-deps` installs Debian's")
    # -N: nothing on stdout (nobody reads it), the log goes to a file in the temporary folder
    return [binary, "-C", str(folder / "janus.jcfg"), "-F", str(folder), "-N", "-o", "-L", str(log)]


def room_number(room: str) -> int:
    """The VideoRoom id of one of the bench's rooms (``room0`` -> 1000)."""
    return 1000 + int(room.removeprefix("room"))


class JanusError(RuntimeError):
    pass


class JanusApi:
    """One Janus session over one WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.session_id = 0
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.plugin_calls: set[str] = set()  # answered by an ack, then an event
        self.numbers = itertools.count()
        self.tasks = [asyncio.create_task(self._read())]

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, url: str) -> JanusApi:
        ws = await http.ws_connect(url, protocols=("janus-protocol",), heartbeat=None)
        self = cls(ws)
        self.session_id = (await self.call({"janus": "create"}))["data"]["id"]
        self.tasks.append(asyncio.create_task(self._keepalive()))
        return self

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            transaction = data.get("transaction", "")
            future = self.pending.get(transaction)
            if future is None or (data.get("janus") == "ack" and transaction in self.plugin_calls):
                continue  # an event nobody waits for (webrtcup, media, ...), or a plugin's ack
            del self.pending[transaction]
            self.plugin_calls.discard(transaction)
            if not future.done():
                future.set_result(data)
        for future in self.pending.values():
            if not future.done():
                future.set_exception(JanusError("Janus closed the WebSocket"))

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_S)
            await self.call({"janus": "keepalive", "session_id": self.session_id})

    async def call(self, request: dict[str, Any], plugin: bool = False) -> dict[str, Any]:
        transaction = f"t{next(self.numbers)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[transaction] = future
        if plugin:
            self.plugin_calls.add(transaction)
        await self.ws.send_str(json.dumps({**request, "transaction": transaction}))
        answer = await asyncio.wait_for(future, 30)
        if answer.get("janus") == "error":
            raise JanusError(str(answer.get("error")))
        return answer

    async def attach(self) -> int:
        request = {"janus": "attach", "session_id": self.session_id}
        answer = await self.call({**request, "plugin": "janus.plugin.videoroom"})
        return int(answer["data"]["id"])

    async def message(
        self, handle: int, body: dict[str, Any], jsep: dict[str, str] | None = None
    ) -> tuple[dict[str, Any], dict[str, str] | None]:
        """A VideoRoom request; its answer's data and JSEP (if any)."""
        request: dict[str, Any] = {"janus": "message", "session_id": self.session_id}
        request.update(handle_id=handle, body=body)
        if jsep is not None:
            request["jsep"] = jsep
        answer = await self.call(request, plugin=True)
        data = answer.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise JanusError(f"{body.get('request')}: {data['error']}")
        return data, answer.get("jsep")

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()


async def wait_listening(port: int, within: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            _, writer = await asyncio.open_connection(LOOPBACK, port)
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)
        else:
            writer.close()
            return


async def create_rooms(url: str, rooms: list[str], publishers: int) -> None:
    """The bench's rooms, as the product's rooms are used: VP8 and Opus, no bitrate cap, no
    periodic keyframe requests (the SFU asks only when a subscriber needs one), no recording."""
    async with aiohttp.ClientSession() as http:
        api = await JanusApi.open(http, url)
        try:
            handle = await api.attach()
            for room in rooms:
                body = {"request": "create", "room": room_number(room), "permanent": False}
                body.update(publishers=publishers, bitrate=0, fir_freq=0)
                body.update(videocodec="vp8", audiocodec="opus", record=False)
                await api.message(handle, body)
        finally:
            await api.close()
