"""The background-task supervisor: a worker that fails or returns is restarted with growing
backoff; stopping cancels every worker and waits no longer than its time limit."""

from __future__ import annotations

import asyncio
import logging

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from server.db import not_cut_short
from server.tasks import Supervisor, stop_if_cancelled


async def test_a_failing_worker_is_restarted_with_backoff_and_its_error_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    waits: list[float] = []
    fourth_start = asyncio.Event()

    async def no_wait(delay: float) -> None:
        waits.append(delay)

    async def flaky() -> None:
        if len(waits) < 4:
            raise RuntimeError(f"boom {len(waits) + 1}")
        fourth_start.set()
        await asyncio.Event().wait()

    sup = Supervisor(first_backoff=1, max_backoff=4, sleep=no_wait)
    with caplog.at_level(logging.ERROR, logger="server.tasks"):
        sup.start("flaky", flaky)
        await asyncio.wait_for(fourth_start.wait(), 5)
    state = sup.tasks["flaky"]
    assert waits == [1, 2, 4, 4]  # doubling, capped
    assert state.restarts == 4 and state.running
    assert state.last_error == "RuntimeError: boom 4"
    assert sum("failed; restarting" in r.message for r in caplog.records) == 4
    await sup.stop()
    assert not state.running and sup.tasks == {}


async def test_a_worker_that_returns_is_restarted_too() -> None:
    runs = 0
    second = asyncio.Event()

    async def once() -> None:
        nonlocal runs
        runs += 1
        if runs >= 2:
            second.set()
            await asyncio.Event().wait()

    sup = Supervisor(first_backoff=0)
    sup.start("once", once)
    await asyncio.wait_for(second.wait(), 5)
    assert sup.tasks["once"].last_error == "returned"
    await sup.stop()


async def test_stop_gives_up_on_a_worker_that_will_not_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    released = asyncio.Event()

    async def stubborn() -> None:
        while not released.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue  # a worker stuck in the outside world ignores the cancel

    async def polite() -> None:
        await asyncio.Event().wait()

    sup = Supervisor(stop_timeout=0.05)
    sup.start("stubborn", stubborn)
    sup.start("polite", polite)
    await asyncio.sleep(0)
    polite_task = sup.tasks["polite"].task
    with caplog.at_level(logging.ERROR, logger="server.tasks"):
        await asyncio.wait_for(sup.stop(), 2)
    assert polite_task is not None and polite_task.cancelled()
    assert any("stubborn did not stop in time" in r.message for r in caplog.records)
    released.set()
    stuck = [t for t in asyncio.all_tasks() if t.get_name() == "stubborn"]
    for task in stuck:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_stop_task_stops_one_and_leaves_the_rest() -> None:
    async def forever() -> None:
        await asyncio.Event().wait()

    sup = Supervisor()
    sup.start("a", forever)
    sup.start("b", forever)
    await sup.stop_task("a")
    assert list(sup.tasks) == ["b"] and sup.tasks["b"].running
    with pytest.raises(RuntimeError):
        sup.start("b", forever)
    await sup.stop()


async def test_a_one_off_job_that_finishes_is_done_and_one_that_fails_is_retried() -> None:
    runs: list[str] = []
    retried = asyncio.Event()

    async def job() -> None:
        runs.append("job")

    async def flaky_job() -> None:
        runs.append("flaky")
        if runs.count("flaky") == 1:
            raise RuntimeError("not yet")
        retried.set()

    sup = Supervisor(first_backoff=0)
    sup.start("job", job, once=True)
    sup.start("flaky", flaky_job, once=True)
    await asyncio.wait_for(retried.wait(), 5)
    for name in ("job", "flaky"):
        task = sup.tasks[name].task
        assert task is not None
        await asyncio.wait_for(task, 5)
    assert runs.count("job") == 1 and runs.count("flaky") == 2
    assert sup.tasks["job"].restarts == 0 and sup.tasks["job"].last_error is None
    assert sup.tasks["flaky"].restarts == 1 and not sup.tasks["flaky"].running
    await sup.stop()


async def test_a_workers_transaction_ends_before_its_cancel_goes_through() -> None:
    """``server.db.not_cut_short``: a worker stopped mid-transaction (the server stopping)
    lets the transaction end first, so no connection is left holding SQLite's write lock."""
    ended: list[str] = []

    async def transaction() -> str:
        await asyncio.sleep(0.05)
        ended.append("committed")
        return "done"

    worker = asyncio.create_task(not_cut_short(transaction()))
    await asyncio.sleep(0.01)
    worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await worker
    assert ended == ["committed"]
    assert await not_cut_short(transaction()) == "done"  # uncancelled: its result


async def test_a_retry_loop_stops_when_its_library_turns_the_cancel_into_an_error():
    """redis-py can raise its own ConnectionError for a connect that a cancel cut short; a
    worker's retry loop that catches it must still end (nodes lived on after SIGTERM)."""
    started = asyncio.Event()

    async def library_call() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RedisConnectionError("connect cut short") from None

    async def worker() -> None:
        while True:
            try:
                await library_call()
            except RedisError:
                stop_if_cancelled()
            await asyncio.sleep(0.01)

    task = asyncio.create_task(worker())
    await started.wait()
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=5)
    assert task in done, "the loop caught the converted cancel and went on"
    assert task.cancelled()
