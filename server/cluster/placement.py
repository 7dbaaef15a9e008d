"""Which node a session's room lives on.

One key per live room, ``<cluster>:room:<session id>``, names its node. The first node to
see a participant arrive places the room on the least-loaded live node (``least_loaded``)
with a compare-and-set in Redis, so two nodes placing the same room at the same moment agree
on one. The room's node keeps the key alive (``hold``, every beat) while the room is there;
a key whose node died, or is draining, is replaced by the next arrival, and a key whose room
ended expires by itself. If Redis loses the keys (a restart), each node writes its rooms
back on its next beat: a room never moves because Redis forgot it.
"""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis

from server.cluster.registry import Registry, least_loaded

ROOM_TTL_MS = 30_000

# Set KEYS[1] to ARGV[2] if it still holds ARGV[1] ('' for absent); return what it holds.
_PLACE = """
local v = redis.call('get', KEYS[1])
if (v == false and ARGV[1] == '') or v == ARGV[1] then
  redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return ARGV[2]
end
return v
"""
# Keep KEYS[1] naming ARGV[1] (this node) unless another node holds it now: 1 held, 2 held
# again after Redis had forgotten it, 0 held by another.
_HOLD = """
local v = redis.call('get', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  if v == false then return 2 end
  return 1
end
return 0
"""


class Placement:
    def __init__(self, redis: Redis, cluster: str, registry: Registry) -> None:
        self.redis, self.registry = redis, registry
        self.prefix = f"{cluster}:room:"
        self.me = registry.me.id

    def _key(self, session_id: int) -> str:
        return f"{self.prefix}{session_id}"

    async def place(self, session_id: int, *, gone: frozenset[str] = frozenset()) -> str:
        """The id of the node the session's room is on, placing it if it has none (or its
        node is draining, dead, or found ``gone`` by the caller before the registry knew)."""
        nodes = [n for n in await self.registry.nodes() if n.id not in gone]
        usable = {n.id for n in nodes if not n.draining}
        key = self._key(session_id)
        owner = None
        for _attempt in range(3):
            raw = await self.redis.get(key)
            owner = raw.decode() if isinstance(raw, bytes) else raw
            if owner in usable:
                return str(owner)
            best = least_loaded(nodes)
            # No live node in view (this one's report not yet in): the room stays here.
            chosen = best.id if best is not None else self.me
            won = await self.redis.eval(_PLACE, 1, key, owner or "", chosen, ROOM_TTL_MS)
            won = won.decode() if isinstance(won, bytes) else str(won)
            if won == chosen or won in usable:
                return won
            owner = won  # placed meanwhile on a node not (yet) in this view: look again
        return str(owner or self.me)

    async def hold(self, session_ids: Iterable[int]) -> list[int]:
        """Keep this node's live rooms placed here (called every beat). Returns the rooms
        whose key Redis had forgotten (it restarted): what else it kept of them is gone
        too, and the caller writes it again."""
        sids = list(session_ids)
        async with self.redis.pipeline(transaction=False) as pipe:
            for sid in sids:
                pipe.eval(_HOLD, 1, self._key(sid), self.me, ROOM_TTL_MS)
            held = await pipe.execute()
        return [sid for sid, h in zip(sids, held, strict=True) if int(h) == 2]
