"""The signaling protocol, version 1: what both directions share.

Pure: no I/O, no clock. The messages are in ``signaling.browser_messages`` (what a browser
sends; ``parse_client`` validates a frame) and ``signaling.server_messages`` (what the server
sends; ``serialize``, and ``parse_server`` for a client such as the test peers). Here are the
version, the bounds on a frame, the error codes and ``ProtocolError``, which carries the code
the server answers a refused message with, and ``load``, the first step of parsing a frame in
either direction. signaling/PROTOCOL.md documents the same messages for people; keep them in
step.
"""

from __future__ import annotations

from typing import Any

from server import jsonlimits

VERSION = 1
# An SDP offer for a room of six with screen shares is ~20 KB; leave room, but bound it.
MAX_FRAME_BYTES = 256 * 1024
# Every message is a flat object (a server offer's track map is three levels deep, the ICE
# servers of a welcome four); a frame nested deeper is not one of ours. Numbers are bounded
# by the one JSON decoder (``server.jsonlimits``).
MAX_DEPTH = 8

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
# A guest of joint mediation the host has not let into private rooms (signaling.guests).
CAUCUS_NOT_ALLOWED = "caucus_not_allowed"


class ProtocolError(Exception):
    """A message the server refuses; answered with an ``error`` message, never a close."""

    def __init__(self, code: str, message: str, re: int | str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.re = re


def load(frame: str | bytes) -> dict[str, Any]:
    """One frame as a JSON object, within the bounds, or ``ProtocolError``."""
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
