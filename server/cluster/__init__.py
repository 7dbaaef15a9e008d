"""courtlink past one process: the nodes of a cluster on Redis and PostgreSQL.

With ``COURTLINK_REDIS_URL`` set, ``courtlink serve`` is one node of a cluster: it registers
in Redis under its id with the address browsers reach its media on, and reports its load
every second (``registry``). A node whose reports stop is gone for every other node within
``registry.DEAD_AFTER_S``: its entry expires in Redis itself, so no node's clock decides
another's death. Without Redis nothing here runs, and one process works as it always has.

PostgreSQL is the cluster's database; SQLite's file cannot be shared by several machines,
so a cluster on SQLite is refused at start (``check_cluster_database``).
"""

from __future__ import annotations

import os

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from server.settings import Settings


class ClusterConfigError(ValueError):
    """Settings that cannot make a cluster node; the message says what to change."""


def clustered(settings: Settings) -> bool:
    return bool(settings.redis_url)


def node_id(settings: Settings) -> str:
    """This process's id in its cluster: ``NODE_ID``, else host name and port (unique on one
    machine, readable in a list, and the same after a restart, so a restarted node knows its
    own unfinished jobs). A single server has one too: the jobs it leases carry it."""
    return settings.node_id or f"{os.uname().nodename}-{settings.port}"


def check_cluster_database(settings: Settings) -> None:
    """Several nodes share one PostgreSQL database; SQLite stays single-node."""
    if clustered(settings) and settings.is_sqlite:
        raise ClusterConfigError(
            "COURTLINK_REDIS_URL is set, so this server would join a cluster, but its "
            "database is SQLite, which one process alone may use: set COURTLINK_DATABASE_URL "
            "to the cluster's PostgreSQL database, or unset COURTLINK_REDIS_URL to run as a "
            "single server"
        )


def connect_redis(settings: Settings) -> Redis:
    """The node's client of the cluster's Redis. A command that meets a broken connection is
    tried again on a fresh one, a few times within about a second: after a Redis restart
    every pooled connection is dead, and the first command on each must not be lost (a
    browser's message on its way across the bridge). A Redis that stays away still fails
    fast, and each caller waits it out in its own way."""
    return Redis.from_url(
        settings.redis_url,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
