"""Session recordings: the SFU tap that remuxes forwarded VP8/Opus into per-track WebM files,
crash recovery, sealing (hashes and an Ed25519-signed manifest), verification, the composite
playback file, retention, and the pages and API that let the allowed people play them.

``setup(app)`` wires it into the app: a cleanup context recovers interrupted segments at
start-up, then runs the recorder and the composite worker for the app's lifetime.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from recordings.service import RecordingService
from server.appkeys import JINJA, SESSIONMAKER, SETTINGS

RECORDINGS = web.AppKey("recordings", RecordingService)


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    from recordings import crash, jobs

    settings = app[SETTINGS]
    paths_root = settings.data_dir / "recordings"
    paths_root.mkdir(parents=True, exist_ok=True)
    await crash.recover(app[SESSIONMAKER], settings)
    service = RecordingService(settings, app[SESSIONMAKER])
    app[RECORDINGS] = service
    await service.start()
    bridge = None
    try:
        from signaling.hub import HUB
    except ImportError:  # recordings can run without the live subsystem (tests, tools)
        HUB = None  # type: ignore[assignment]
    if HUB is not None and HUB in app:
        from recordings.live import HubBridge

        bridge = HubBridge(service, app[HUB])
    worker = jobs.Worker(app, service)
    yield
    await worker.stop()
    if bridge is not None:
        await bridge.close()
    await service.stop()


def setup(app: web.Application) -> None:
    from server.access import can_view_recordings
    from server.api import recordings as api
    from server.pages import recording_pages as pages

    app.cleanup_ctx.append(_lifetime)
    app[JINJA].globals["can_view_recordings"] = can_view_recordings
    api.setup(app)
    pages.setup(app)
