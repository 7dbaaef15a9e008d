"""``make cluster``: three courtlink nodes and an nginx front on this machine.

For trying the cluster by hand against the machine's own Redis and PostgreSQL: the demo's
court served through the front at ``http://127.0.0.1:8080`` (log in there, open a session
in two browsers, ``courtlink drain node-2`` or kill a node, and watch everyone come back).

Settings, from the environment: ``COURTLINK_DATABASE_URL`` (default: the local PostgreSQL's
database ``courtlink_cluster``, created when missing), ``COURTLINK_REDIS_URL`` (default: the
local Redis), ``CLUSTER_NODES`` (3) and ``CLUSTER_PORT`` (8080, the front; the nodes listen
on the ports after it). The nodes share ``var/cluster/data`` as their data directory, as
nodes on several machines share one over NFS: one secret key, one recordings store that any
node can recover and seal. Ctrl-C stops the front, then each node as SIGTERM does.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DB = "postgresql+asyncpg://postgres@127.0.0.1:5432/courtlink_cluster"


async def _ensure_database(url: str) -> None:
    u = make_url(url)
    conn = await asyncpg.connect(
        host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username or "postgres",
        password=u.password, database="postgres",
    )  # fmt: skip
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", u.database):
            await conn.execute(f'CREATE DATABASE "{u.database}"')
    finally:
        await conn.close()


def front_config(run: Path, port: int, nodes: list[int]) -> Path:
    """nginx's configuration for a front on ``port`` before the nodes on ``nodes``, written
    into ``run`` (its working directory), from ``front.conf``."""
    template = (Path(__file__).with_name("front.conf")).read_text(encoding="utf-8")
    upstreams = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in nodes)
    conf = run / "nginx.conf"
    conf.write_text(
        template.format(
            run=run, listen=f"127.0.0.1:{port}", upstreams=upstreams, user=getpass.getuser()
        ),
        encoding="utf-8",
    )
    return conf


def main() -> int:
    count = int(os.environ.get("CLUSTER_NODES", "3"))
    front = int(os.environ.get("CLUSTER_PORT", "8080"))
    db = os.environ.get("COURTLINK_DATABASE_URL", DEFAULT_DB)
    if db.startswith("sqlite"):
        print("make cluster: the cluster's database is PostgreSQL; unset COURTLINK_DATABASE_URL")
        return 2
    asyncio.run(_ensure_database(db))
    base = ROOT / "var" / "cluster"
    run = base / "front"
    run.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "COURTLINK_DATABASE_URL": db,
        "COURTLINK_REDIS_URL": os.environ.get("COURTLINK_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "COURTLINK_DATA_DIR": str(base / "data"),
        "COURTLINK_PUBLIC_URL": f"http://127.0.0.1:{front}",
    }
    exe = str(Path(sys.executable).parent / "courtlink")
    for step in ("migrate", "demo"):
        subprocess.run([exe, step], env=env, check=True)
    ports = [front + 1 + i for i in range(count)]
    nodes = [
        subprocess.Popen(
            [exe, "serve", "--host", "127.0.0.1", "--port", str(p)],
            env={**env, "COURTLINK_NODE_ID": f"node-{i + 1}"},
        )
        for i, p in enumerate(ports)
    ]
    nginx = subprocess.Popen(["nginx", "-c", str(front_config(run, front, ports)), "-p", str(run)])
    print(
        f"courtlink cluster: {count} nodes on ports {ports[0]}-{ports[-1]}, front at "
        f"http://127.0.0.1:{front}; `courtlink nodes` lists them, `courtlink drain node-2` "
        "drains one; Ctrl-C stops them all",
        flush=True,
    )
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    while not stop and nginx.poll() is None:
        time.sleep(0.5)
    nginx.terminate()
    for node in nodes:
        if node.poll() is None:
            node.send_signal(signal.SIGTERM)
    for proc in [nginx, *nodes]:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
