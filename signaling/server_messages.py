"""The signaling protocol's server -> browser messages: ``serialize`` one to send it, and
``parse_server`` (what a client such as the test peers uses) to read one."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from signaling.protocol import BAD_VERSION, INVALID, VERSION, ProtocolError, load


class Outgoing(BaseModel):
    """What every message the server sends has: the version."""

    model_config = ConfigDict(extra="forbid")
    v: Literal[1] = 1


class PersonOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pid: str
    name: str
    role: Literal["host", "staff", "party", "guest"]
    place: str | None  # None = lobby
    connected: bool
    audio: bool = True
    video: bool = True
    screen: bool = False
    # A guest of joint mediation (role "guest"): shown on their tile as name · organisation ·
    # role; whether the host lets them into private rooms. None for everyone else.
    organisation: str | None = None
    guest_role: str | None = None
    may_caucus: bool | None = None


class HostOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    present: bool


class Welcome(Outgoing):
    type: Literal["welcome"] = "welcome"
    re: int | str | None = None
    pid: str
    role: Literal["host", "staff", "party", "guest"]
    name: str
    place: str | None
    resumed: bool
    resume: str
    resume_seconds: int
    heartbeat_seconds: int
    ice_servers: list[dict[str, Any]]


class Offer(Outgoing):
    type: Literal["offer"] = "offer"
    sdp: str
    # mid -> {"pid": publisher, "source": "camera"|"mic"|"screen"} when the SFU says so.
    tracks: dict[str, dict[str, str]] = Field(default_factory=dict)


class State(Outgoing):
    """The roster as the receiver may see it; sent after every change."""

    type: Literal["state"] = "state"
    you: PersonOut
    hosts: list[HostOut]
    people: list[PersonOut]
    rooms: list[str]
    lobby_count: int


class Ack(Outgoing):
    type: Literal["ack"] = "ack"
    re: int | str | None


class Error(Outgoing):
    type: Literal["error"] = "error"
    re: int | str | None = None
    code: str
    message: str


class ServerPing(Outgoing):
    type: Literal["ping"] = "ping"


class ServerPong(Outgoing):
    type: Literal["pong"] = "pong"
    re: int | str | None = None


class MuteRequested(Outgoing):
    type: Literal["mute_request"] = "mute_request"
    by: str


# Why the server closes a socket (PROTOCOL.md "Server -> browser", ``bye``).
ByeReason = Literal[
    "denied", "removed", "ended", "replaced", "timeout", "left",
    "flood", "revoked", "cancelled", "moved", "deactivated",
]  # fmt: skip


class Bye(Outgoing):
    """The server is closing this socket, and why."""

    type: Literal["bye"] = "bye"
    reason: ByeReason


class AgreementShown(Outgoing):
    type: Literal["agreement.show"] = "agreement.show"
    agreement_id: int
    by: str


class DocumentShown(Outgoing):
    """A document of the case file the host shows the room (fetched by its id: staff by the
    case's route, a party by their link's)."""

    type: Literal["document.show"] = "document.show"
    document_id: int
    by: str


class VideoPaused(Outgoing):
    """The cameras (by pid) the receiver's link cannot carry now, even at their lowest
    layer, or that its audio-only mode stops: their tiles say so. Sent when the list changes."""

    type: Literal["video.paused"] = "video.paused"
    pids: list[str]


class Recording(Outgoing):
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
    | DocumentShown
    | Recording,
    Field(discriminator="type"),
]
_server_adapter: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)


def serialize(message: Outgoing) -> str:
    return message.model_dump_json()


def parse_server(frame: str | bytes) -> ServerMessage:
    data = load(frame)
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
