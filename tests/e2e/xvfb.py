"""A virtual X screen (Xvfb) for a browser test that needs a real display: headless Firefox
has no screen to share, and Firefox on an X display shares it without a picker once its
permission prompts are off."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

XVFB = Path("/usr/bin/Xvfb")


@contextlib.asynccontextmanager
async def virtual_screen() -> AsyncIterator[str]:
    """Start Xvfb on a free display number (it names it on a pipe) and yield it, e.g. ":99"."""
    read_fd, write_fd = os.pipe()
    proc = await asyncio.create_subprocess_exec(
        str(XVFB), "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp",
        pass_fds=(write_fd,), stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write_fd)
    try:
        number = await asyncio.wait_for(asyncio.to_thread(os.read, read_fd, 16), 30)
        if not number.strip():
            raise RuntimeError("Xvfb exited before it named its display")
        yield ":" + number.decode().strip()
    finally:
        os.close(read_fd)
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()
