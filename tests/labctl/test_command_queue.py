"""The command queue between transports and a machine loop: exactly one answer, in time.

Regressions of issue 11: an action raising anything but CommandRefused escaped
``run_pending`` (the sender never got an answer, the TaskGroup stopped the daemon); an abort
that timed out at the sender was carried out later, then ``set_result`` on the cancelled
future raised ``InvalidStateError``.
"""

from __future__ import annotations

import asyncio

import pytest

from labctl.commands.queue import CommandQueue, InternalError
from labctl.commands.registry import CommandRefused


async def _ok() -> dict[str, object]:
    return {"done": True}


async def test_an_unexpected_error_is_answered_then_raised_for_the_supervisor() -> None:
    queue = CommandQueue("k1")

    async def broken() -> dict[str, object]:
        raise RuntimeError("boom")

    sender = asyncio.create_task(queue.submit(broken))
    await asyncio.sleep(0)
    with pytest.raises(InternalError, match="RuntimeError: boom"):
        await queue.run_pending()
    with pytest.raises(CommandRefused, match="k1: internal error: RuntimeError: boom"):
        await sender


async def test_planned_errors_become_refusals_with_their_text() -> None:
    queue = CommandQueue("k1", (OSError,))

    async def refused_by_device() -> dict[str, object]:
        raise OSError("exception 4")

    sender = asyncio.create_task(queue.submit(refused_by_device))
    await asyncio.sleep(0)
    await queue.run_pending()  # nothing escapes
    with pytest.raises(CommandRefused, match="k1: not done: exception 4"):
        await sender


async def test_a_command_not_taken_in_time_is_refused_and_never_carried_out() -> None:
    queue = CommandQueue("k1")
    queue.busy_reason = lambda: "k1 is recovering run 7: waiting for its controller"
    carried_out: list[str] = []

    async def abort() -> dict[str, object]:
        carried_out.append("abort")
        return {}

    with pytest.raises(CommandRefused, match=r"not done within 0\.05 s \(k1 is recovering run 7"):
        await queue.submit(abort, deadline_s=0.05)
    await queue.run_pending()  # the loop comes back: the expired abort must not run now
    assert carried_out == []
    assert queue.expired == 1


async def test_a_sender_that_went_away_gets_nothing_carried_out_and_breaks_nothing() -> None:
    queue = CommandQueue("k1")
    carried_out: list[str] = []

    async def hold() -> dict[str, object]:
        carried_out.append("hold")
        return {}

    sender = asyncio.create_task(queue.submit(hold))
    await asyncio.sleep(0)
    sender.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sender
    await queue.run_pending()
    assert carried_out == []


async def test_a_started_command_is_awaited_past_the_deadline_and_answered_once() -> None:
    queue = CommandQueue("k1")
    release = asyncio.Event()

    async def slow() -> dict[str, object]:
        await release.wait()
        return {"done": True}

    sender = asyncio.create_task(queue.submit(slow, deadline_s=0.05))
    await asyncio.sleep(0)
    loop = asyncio.create_task(queue.run_pending())
    await asyncio.sleep(0.1)  # past the deadline, but already being carried out
    release.set()
    await loop
    assert await sender == {"done": True}


async def test_a_full_queue_refuses_at_once() -> None:
    queue = CommandQueue("k1", size=2)
    senders = [asyncio.create_task(queue.submit(_ok)) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(CommandRefused, match="k1 is busy"):
        await queue.submit(_ok)
    await queue.run_pending()
    assert [await s for s in senders] == [{"done": True}] * 2


async def test_refuse_all_answers_every_waiting_sender() -> None:
    queue = CommandQueue("k1")
    senders = [asyncio.create_task(queue.submit(_ok)) for _ in range(3)]
    await asyncio.sleep(0)
    queue.refuse_all("the daemon is stopping")
    for sender in senders:
        with pytest.raises(CommandRefused, match="k1: the daemon is stopping"):
            await sender
