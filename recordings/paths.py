"""Where recording files live, and the one check that no path leaves the recordings directory.

Every path is built here from database ids and server-made uids; a stored relative path is
resolved and checked against the root before any file is opened, so even a tampered database
row cannot make the server read or delete outside ``<data_dir>/recordings``.
"""

from __future__ import annotations

from pathlib import Path

from server.errors import NotFound
from server.settings import Settings

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
COMPOSITES = "composites"


def root(settings: Settings) -> Path:
    return (settings.data_dir / "recordings").resolve()


def session_dirname(session_id: int) -> str:
    return f"session-{int(session_id)}"


def session_dir(settings: Settings, session_id: int) -> Path:
    return root(settings) / session_dirname(session_id)


def segment_relpath(session_id: int, uid: str) -> str:
    if not uid.isalnum():
        raise ValueError("segment uid must be alphanumeric")
    return f"{session_dirname(session_id)}/{uid}.webm"


def download_name(session_id: int, segment_id: int, label: str) -> str:
    """The name a segment gets when downloaded (its stored name is a uid the user never sees),
    so ``verify`` can name both."""
    return f"session-{int(session_id)}-segment-{int(segment_id)}-{label}.webm"


def composite_relpath(session_id: int) -> str:
    return f"{COMPOSITES}/{session_dirname(session_id)}.webm"


def inside(settings: Settings, relpath: str) -> Path:
    """The absolute path of a stored relative path, refusing anything outside the root."""
    base = root(settings)
    path = (base / relpath).resolve()
    if path == base or not path.is_relative_to(base):
        raise NotFound("no such recording file", code="recording_file_not_found")
    return path
