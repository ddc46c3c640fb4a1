"""The touchscreen learns which commands this person may give (from the registry)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.labctl.web.conftest import Serve


async def test_nobody_signed_in_may_give_no_command(serve: Serve) -> None:
    served = await serve()
    assert (await (await served.client.get("/api/commands")).json())["commands"] == []


async def test_a_technician_may_give_technician_commands_only(serve: Serve) -> None:
    served = await serve()
    await served.sign_in("1001", "2468")  # ana, a technician
    commands = (await (await served.client.get("/api/commands")).json())["commands"]
    assert "hold" in commands
    assert "calibrate" not in commands  # a supervisor's


async def test_a_supervisor_may_give_both_and_the_signin_answer_says_so(serve: Serve) -> None:
    served = await serve()
    resp = await served.client.post(
        "/api/signin", json={"badge": "2002", "pin": "1357"}, headers={"Origin": served.origin}
    )
    answer = await resp.json()
    assert {"hold", "calibrate"} <= set(answer["commands"])
    asked = await (await served.client.get("/api/commands")).json()
    assert answer["commands"] == asked["commands"]
