"""The signaling protocol's browser -> server messages, and ``parse_client`` for a frame.

Strict: unknown fields and types are refused, each with the error code the server answers
(``signaling.protocol``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from signaling.protocol import (
    BAD_VERSION,
    INVALID,
    MAX_FRAME_BYTES,
    UNKNOWN_TYPE,
    VERSION,
    ProtocolError,
    load,
)

Pid = Annotated[str, Field(pattern=r"^p[0-9a-f]{8,32}$")]
RoomName = Annotated[str, Field(pattern=r"^(main|caucus-[a-z0-9]{1,16})$")]
ReqId = Annotated[int, Field(ge=0, le=2**53)] | Annotated[str, Field(max_length=64)]


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


class View(_In):
    """What the sender shows of each camera (its tile's height in device pixels, by pid: a
    small tile never needs the top simulcast layer) and the video it wants: ``full``,
    ``low`` (the lowest layer only) or ``audio`` (no camera)."""

    type: Literal["view"]
    heights: Annotated[dict[Pid, Annotated[int, Field(ge=0, le=10_000)]], Field(max_length=64)]
    mode: Literal["full", "low", "audio"]


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


class GuestCaucus(_In):
    """The host lets a guest of joint mediation into caucus rooms, or no longer does."""

    type: Literal["guest.caucus"]
    pid: Pid
    allow: bool


class DocumentShow(_In):
    """The host shows one document of the case file (电子卷宗) to everyone in their room."""

    type: Literal["document.show"]
    document_id: Annotated[int, Field(ge=1, le=2**31 - 1)]


ClientMessage = Annotated[
    Hello
    | Answer
    | Ping
    | Pong
    | Media
    | View
    | Leave
    | Admit
    | Deny
    | Remove
    | Move
    | MuteRequest
    | End
    | AgreementShow
    | DocumentShow
    | GuestCaucus,
    Field(discriminator="type"),
]
CLIENT_TYPES = frozenset(
    {
        "hello", "answer", "ping", "pong", "media", "view", "leave", "admit", "deny", "remove",
        "move", "mute_request", "end", "agreement.show", "document.show", "guest.caucus",
    }
)  # fmt: skip
_client_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


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
    data = load(frame)
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
