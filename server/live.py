"""The live side of the app, built and wired in one place: the SFU, the hub and the recording
service.

``live_ctx`` (a cleanup context for the app factory) first recovers what a dead process left
of its recordings (a cluster node: what it left itself, and it watches for dead nodes' open
segments, ``server.cluster.recovery``), then builds the pass-through SFU, the hub over it and
the recording service, and joins them through signaling's typed interface
(``signaling.events``): the hub tells its listeners what happens in the rooms, and the
recording service is handed the hub as the rooms' control (the recording indicator, keyframe
requests). Recordings and signaling never import each other; this module is where their
shapes are checked to fit. The sealing and composite worker runs under the app's supervisor,
woken by the court's ``composite`` signal (``Context.signal_after_commit("composite")``). The
court's ``access_ended`` signal (``server.live_access``) reaches the hub: whoever lost their
access leaves the room at once.
``going_away`` (an ``on_shutdown`` handler) stops it all at shutdown, sending everyone away.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from recordings import crash, paths
from recordings.jobs import CompositeWorker
from recordings.listener import RecordingListener
from recordings.service import RecordingService
from server.cluster import clustered, node_id
from server.cluster.recovery import DeadNodes, recover_node
from server.context import Actor, Court
from server.live_access import ACCESS_ENDED, AccessEnded
from server.live_documents import DocumentShowings
from server.live_guests import GuestDecisions
from server.models.accounts import User
from server.models.sessions import MediationSession
from server.sessions import LIVE_STATUSES, end_session
from server.web.keys import COURT, SETTINGS, SUPERVISOR
from server.web.node import NODE
from signaling.events import RoomListener, SessionEnded
from signaling.hub import HUB, Hub
from signaling.sfu import Sfu

__all__ = ["HUB", "RECORDINGS", "SessionCloser", "going_away", "live_ctx"]

RECORDINGS = web.AppKey("recordings", RecordingService)
_STOP: web.AppKey[Callable[[], Awaitable[None]]] = web.AppKey("live_stop")


def access_ended(hub: Hub) -> Callable[[AccessEnded], None]:
    """The ``access_ended`` signal's callback: the domain's words into the hub's."""

    def ended(event: AccessEnded) -> None:
        hub.withdraw(
            event.reason,
            session_id=event.session_id,
            invite_id=event.invite_id,
            user_id=event.user_id,
        )

    return ended


class SessionCloser(RoomListener):
    """Ends the session in the database when its host ends it from the room, as the API
    does; a session ended from the API or a page was recorded there already."""

    def __init__(self, court: Court) -> None:
        self.court = court

    async def on_session_ended(self, event: SessionEnded) -> None:
        if event.ended_by is None:
            return
        async with self.court.unit() as ctx:
            session = await ctx.db.get(MediationSession, event.session_id)
            user = await ctx.db.get(User, event.ended_by)
            if session is not None and session.status in LIVE_STATUSES:
                by = Actor.for_user(user) if user is not None else ctx.actor
                await end_session(ctx.acting_as(by), session)


async def live_ctx(app: web.Application) -> AsyncIterator[None]:
    """Live sessions and their recording for the app's lifetime (``HUB``, ``RECORDINGS``)."""
    court, settings = app[COURT], app[SETTINGS]
    paths.root(settings).mkdir(parents=True, exist_ok=True)
    me, registry = node_id(settings), app.get(NODE)
    if registry is None:
        await crash.recover(court)
    else:
        await recover_node(court, registry.redis, settings.cluster_name, me, me, own=True)
        dead = DeadNodes(court, registry, settings.cluster_name)
        app[SUPERVISOR].start("dead-node-recordings", dead.run)
    sfu = Sfu(
        ice_servers=settings.ice_servers,
        max_video_kbps=settings.max_video_kbps,
        simulcast=settings.simulcast,
    )
    hub = Hub(sfu, ice_servers=settings.ice_servers)
    service = RecordingService(court, rooms=hub, node=me)
    recording = RecordingListener(service)
    # In this order: a session its host ended is ended in the database before its recording
    # is sealed, and before anyone in the room is told (so a quick rejoin is refused).
    hub.add_listener(SessionCloser(court))
    hub.add_listener(recording)
    showings = DocumentShowings(court)
    hub.add_listener(showings)
    decisions = GuestDecisions(court)
    hub.add_listener(decisions)
    app[HUB] = hub
    app[RECORDINGS] = service
    court.signals.register("composite", service.composite_wakeup.set)
    court.signals.register(ACCESS_ENDED, access_ended(hub))
    await service.start()
    hub.start()
    app[SUPERVISOR].start("recordings", CompositeWorker(court, service, node_id(settings)).run)
    stopped = False

    async def stop() -> None:
        nonlocal stopped
        if stopped:
            return
        stopped = True
        # The recordings first: what ended is sealed, what is open closes as "shutdown" (not
        # as tracks ending when the peers below are closed). The worker stops before the
        # service it seals and renders through. Then everyone is sent away (1001) and their
        # peers closed.
        await recording.close()
        await showings.close()
        await decisions.close()
        await app[SUPERVISOR].stop_task("recordings")
        if registry is not None:
            await app[SUPERVISOR].stop_task("dead-node-recordings")
        court.signals.unregister("composite")
        court.signals.unregister(ACCESS_ENDED)
        # A cluster node's rooms go on on other nodes: its open segments end as a handover.
        await service.stop("handover" if clustered(settings) else "shutdown")
        await hub.close()
        await sfu.close()

    app[_STOP] = stop
    yield
    await stop()  # already done by ``going_away`` unless the app was never shut down


async def going_away(app: web.Application) -> None:
    """``on_shutdown``: stop the live side before aiohttp waits for the requests in progress.

    A session's WebSocket is a request that never ends by itself, and aiohttp runs the cleanup
    contexts only after it waited for every open request (up to its shutdown timeout, then it
    cuts them): stopping at cleanup would hold a restart until then and cut everyone's socket
    (1006) instead of sending them away (1001, going away), which tells the page to reconnect.
    """
    stop = app.get(_STOP)
    if stop is not None:  # None: the live side never started
        await stop()
