"""The signaling protocol, version 1: every message's schema, parsing and serializing.

Pure: no I/O, no clock. ``parse_client`` turns one WebSocket text frame from a browser into a
typed message or raises ``ProtocolError`` carrying the error code the server answers with;
``serialize`` turns a server message into the frame to send. ``parse_server`` is what a
client (the test peers, a non-browser client) uses on the other direction.
signaling/PROTOCOL.md documents the same messages for people; keep the two in step.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from server import jsonlimits

VERSION = 1
# An SDP offer for a room of six with screen shares is ~20 KB; leave room, but bound it.
MAX_FRAME_BYTES = 256 * 1024
# Every message is a flat object (a server offer's track map is three levels deep, the ICE
# servers of a welcome four); a frame nested deeper is not one of ours. Numbers are bounded
# by the one JSON decoder (``server.jsonlimits``).
MAX_DEPTH = 8

Pid = Annotated[str, Field(pattern=r"^p[0-9a-f]{8,32}$")]
RoomName = Annotated[str, Field(pattern=r"^(main|caucus-[a-z0-9]{1,16})$")]
ReqId = Annotated[int, Field(ge=0, le=2**53)] | Annotated[str, Field(max_length=64)]

# Error codes (PROTOCOL.md "Errors").
BAD_JSON = "bad_json"
TOO_LARGE = "too_large"
BAD_VERSION = "bad_version"
UNKNOWN_TYPE = "unknown_type"
INVALID = "invalid"
NOT_JOINED = "not_joined"
ALREADY_JOINED = "already_joined"
NOT_ALLOWED = "not_allowed"
NO_SUCH_PARTICIPANT = "no_such_participant"
BAD_STATE = "bad_state"
NAME_MISMATCH = "name_mismatch"
SESSION_ENDED = "session_ended"
INTERNAL = "internal"
RATE_LIMITED = "rate_limited"


class ProtocolError(Exception):
    """A message the server refuses; answered with an ``error`` message, never a close."""

    def __init__(self, code: str, message: str, re: int | str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.re = re


# --- browser -> server -----------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    v: Literal[1]
    id: ReqId | None = None


class Hello(_In):
    """First message on a socket: join (lobby, or straight in for a host) or resume."""

    type: Literal["hello"]
    name: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    # A token the server made (``secrets.token_urlsafe``): anything else cannot be one.
    resume: (
        Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] | None
    ) = None


class Answer(_In):
    type: Literal["answer"]
    sdp: Annotated[str, Field(min_length=1, max_length=MAX_FRAME_BYTES)]


class Ping(_In):
    type: Literal["ping"]


class Pong(_In):
    type: Literal["pong"]


class Media(_In):
    """What the sender is sending now (mute / camera / screen toggles), shown to others."""

    type: Literal["media"]
    audio: bool
    video: bool
    screen: bool


class Leave(_In):
    type: Literal["leave"]


class Admit(_In):
    type: Literal["admit"]
    pid: Pid


class Deny(_In):
    type: Literal["deny"]
    pid: Pid


class Remove(_In):
    type: Literal["remove"]
    pid: Pid


class Move(_In):
    """Into a caucus room, or back to ``main`` ("bring back"); the host may move itself."""

    type: Literal["move"]
    pid: Pid
    room: RoomName


class MuteRequest(_In):
    type: Literal["mute_request"]
    pid: Pid


class End(_In):
    type: Literal["end"]


class AgreementShow(_In):
    """Reserved for the agreements subsystem: show a draft to everyone in the host's room."""

    type: Literal["agreement.show"]
    agreement_id: Annotated[int, Field(ge=1)]


ClientMessage = Annotated[
    Hello
    | Answer
    | Ping
    | Pong
    | Media
    | Leave
    | Admit
    | Deny
    | Remove
    | Move
    | MuteRequest
    | End
    | AgreementShow,
    Field(discriminator="type"),
]
CLIENT_TYPES = frozenset(
    {
        "hello", "answer", "ping", "pong", "media", "leave", "admit", "deny", "remove", "move",
        "mute_request", "end", "agreement.show",
    }
)  # fmt: skip
_client_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


def _load(frame: str | bytes) -> dict[str, Any]:
    # In UTF-8 bytes, as it came; a lone surrogate (only a test can send one) is no crash.
    size = len(frame.encode("utf-8", "surrogatepass") if isinstance(frame, str) else frame)
    if size > MAX_FRAME_BYTES:
        raise ProtocolError(TOO_LARGE, f"messages are limited to {MAX_FRAME_BYTES} bytes")
    try:
        data = jsonlimits.loads(frame, max_depth=MAX_DEPTH)
    except jsonlimits.MalformedJson as exc:
        raise ProtocolError(BAD_JSON, f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(BAD_JSON, "a message is a JSON object")
    return data


def _req_id(data: dict[str, Any]) -> int | str | None:
    rid = data.get("id")
    if isinstance(rid, bool) or not isinstance(rid, int | str):
        return None
    if isinstance(rid, str) and (len(rid) > 64 or _lone_surrogate(rid)):
        return None  # echoed back only if it can be: JSON text holds no lone surrogate
    return rid


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_client(frame: str | bytes) -> ClientMessage:
    """Validate one frame from a browser. Raises ProtocolError with the code to answer."""
    data = _load(frame)
    rid = _req_id(data)
    if data.get("v") != VERSION:
        raise ProtocolError(BAD_VERSION, f"this server speaks version {VERSION}", rid)
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:
        shown = repr(kind)[:40]  # never echo a whole frame back
        raise ProtocolError(UNKNOWN_TYPE, f"unknown message type {shown}", rid)
    try:
        return _client_adapter.validate_python(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        # Drop the union tag pydantic puts first in the location.
        where = ".".join(str(p) for p in err["loc"][1:]) or "message"
        raise ProtocolError(INVALID, f"{where}: {err['msg']}", rid) from None


# --- server -> browser -----------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")
    v: Literal[1] = 1


class PersonOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pid: str
    name: str
    role: Literal["host", "staff", "party"]
    place: str | None  # None = lobby
    connected: bool
    audio: bool = True
    video: bool = True
    screen: bool = False


class HostOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    present: bool


class Welcome(_Out):
    type: Literal["welcome"] = "welcome"
    re: int | str | None = None
    pid: str
    role: Literal["host", "staff", "party"]
    name: str
    place: str | None
    resumed: bool
    resume: str
    resume_seconds: int
    heartbeat_seconds: int
    ice_servers: list[dict[str, Any]]


class Offer(_Out):
    type: Literal["offer"] = "offer"
    sdp: str
    # mid -> {"pid": publisher, "source": "camera"|"mic"|"screen"} when the SFU says so.
    tracks: dict[str, dict[str, str]] = Field(default_factory=dict)


class State(_Out):
    """The roster as the receiver may see it; sent after every change."""

    type: Literal["state"] = "state"
    you: PersonOut
    hosts: list[HostOut]
    people: list[PersonOut]
    rooms: list[str]
    lobby_count: int


class Ack(_Out):
    type: Literal["ack"] = "ack"
    re: int | str | None


class Error(_Out):
    type: Literal["error"] = "error"
    re: int | str | None = None
    code: str
    message: str


class ServerPing(_Out):
    type: Literal["ping"] = "ping"


class ServerPong(_Out):
    type: Literal["pong"] = "pong"
    re: int | str | None = None


class MuteRequested(_Out):
    type: Literal["mute_request"] = "mute_request"
    by: str


# Why the server closes a socket (PROTOCOL.md "Server -> browser", ``bye``).
ByeReason = Literal[
    "denied", "removed", "ended", "replaced", "timeout", "left",
    "flood", "revoked", "cancelled", "moved", "deactivated",
]  # fmt: skip


class Bye(_Out):
    """The server is closing this socket, and why."""

    type: Literal["bye"] = "bye"
    reason: ByeReason


class AgreementShown(_Out):
    type: Literal["agreement.show"] = "agreement.show"
    agreement_id: int
    by: str


class Recording(_Out):
    """Reserved for the recordings subsystem: whether the receiver's room is being recorded."""

    type: Literal["recording"] = "recording"
    active: bool


ServerMessage = Annotated[
    Welcome
    | Offer
    | State
    | Ack
    | Error
    | ServerPing
    | ServerPong
    | MuteRequested
    | Bye
    | AgreementShown
    | Recording,
    Field(discriminator="type"),
]
_server_adapter: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)


def serialize(message: _Out) -> str:
    return message.model_dump_json()


def parse_server(frame: str | bytes) -> ServerMessage:
    data = _load(frame)
    if data.get("v") != VERSION:
        raise ProtocolError(BAD_VERSION, f"expected version {VERSION}")
    try:
        return _server_adapter.validate_python(data)
    except ValidationError as exc:
        raise ProtocolError(INVALID, str(exc.errors(include_url=False)[0]["msg"])) from None


def error(exc: ProtocolError) -> str:
    try:
        return serialize(Error(re=exc.re, code=exc.code, message=exc.message))
    except ValueError:  # something of the sender's that JSON cannot carry: say less
        return serialize(Error(code=exc.code, message=exc.code))
