"""A zip of files streamed as it is written, never held in memory: ``zipfile`` writes into a
sink that is drained to the response after every chunk (the clerks' zip of sealed
agreements)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from aiohttp import web

CHUNK = 64 * 1024


class _Sink(io.RawIOBase):
    """An unseekable file for ``zipfile``: collects bytes until the response drains them."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


async def stream_zip(
    request: web.Request, entries: list[tuple[str, Path]], filename: str
) -> web.StreamResponse:
    """Answer with a zip named ``filename`` holding each (name in the zip, file) entry."""
    resp = web.StreamResponse(
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{filename}"',
        }
    )
    await resp.prepare(request)
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as zf:
        for name, path in entries:
            with zf.open(name, mode="w") as dest, path.open("rb") as src:
                while chunk := src.read(CHUNK):
                    dest.write(chunk)
                    await resp.write(sink.drain())
            await resp.write(sink.drain())
    await resp.write(sink.drain())
    await resp.write_eof()
    return resp
