"""A °F lab reads °F in every text the touchscreen shows: the daemon writes them so
(labctl/units.py), temperature differences without the 32; numbers stay °C for the screen.

The texts are the daemon's own: a runaway trip from the interlocks, a refusal from the
program engine (a new burnout on a hot kiln), a segment from the profile library.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import WSMsgType

from labctl.commands.registry import Caller, CommandRefused, Payload
from labctl.config.limits import InterlockLimits
from labctl.config.users import Role
from labctl.kiln.interlocks import InterlockState, Observation, evaluate
from labctl.kiln.program import engine
from labctl.profiles.loader import load_burnout
from labctl.profiles.segments import describe

if TYPE_CHECKING:
    from tests.labctl.web.conftest import Lab, Serve, Served

PROFILES = Path(__file__).resolve().parents[3] / "profiles"
SCHEDULE = load_burnout(PROFILES / "burnout" / "gypsum-wax-small.toml")


class KilnArgs(Payload):
    kiln: str


def runaway_text() -> str:
    """The interlocks' own words for a 16 °C rise in 5 min with the output off (limit 15 °C)."""
    limits = InterlockLimits(
        max_temp_c=800.0, stale_after_s=60.0, stall_grace_s=600.0, stall_window_s=600.0,
        stall_min_rate_c_per_h=20.0, stall_output_pct=95.0, runaway_window_s=300.0,
        runaway_rise_c=15.0, runaway_output_pct=5.0,
    )  # fmt: skip
    state, trip = InterlockState.start(0.0), None
    for at, pv in ((0.0, 500.0), (150.0, 508.0), (300.0, 516.0)):
        obs = Observation(at=at, pv_c=pv, setpoint_c=500.0, output_pct=0.0)
        state, trip = evaluate(limits, state, obs, at)
    assert trip is not None
    return trip.reason


def too_hot_text() -> str:
    """The engine's refusal of a new burnout on a kiln at 596 °C."""
    with pytest.raises(engine.TooHot) as refused:
        engine.begin(SCHEDULE, 596.0)
    return str(refused.value)


async def full_state(served: Served) -> dict[str, Any]:
    async with served.client.ws_connect("/ws", headers={"Origin": served.origin}) as ws:
        message = await asyncio.wait_for(ws.receive(), 10)
        assert message.type is WSMsgType.TEXT
        data = json.loads(message.data)
        assert data["type"] == "full"
        state = data["state"]
        assert isinstance(state, dict)
        return state


@pytest.mark.parametrize("unit", ["F", "C"])
async def test_a_runaway_alarm_and_outcome_read_in_the_labs_unit(
    serve: Serve, lab: Lab, unit: str
) -> None:
    reason = runaway_text()
    assert "PV rose 16 °C" in reason and "(limit 15 °C)" in reason  # the daemon writes °C
    lab.set_state(
        "ended", outcome=f"faulted: {reason}", outcome_run_id=3, pv_c=516.0,
        segment=describe(SCHEDULE.segments[0]),
    )  # fmt: skip
    served = await serve(temperature_unit=unit)
    served.board.kiln(lab.kiln.snapshot)  # the alarm the trip raises
    state = await full_state(served)
    kiln = state["kilns"]["kiln1"]
    alarm = state["alarms"][0]["text"]
    assert kiln["pv_c"] == 516.0  # a number: °C, the screen converts it
    if unit == "C":
        assert kiln["outcome"] == f"faulted: {reason}"
        assert alarm == f"run 3: faulted: {reason}"
        return
    for text in (kiln["outcome"], alarm):
        assert "PV rose 29 °F over the last 5 min" in text, text  # 16 °C rise: 28.8 °F
        assert "(limit 27 °F)" in text, text  # 15 °C: 27 °F, not 59 °F
        assert "°C" not in text
    assert kiln["segment"] == "ramp to 300 °F at 270 °F/h"  # 149 °C at 150 °C/h


async def test_a_refusal_reads_in_the_labs_unit(serve: Serve, lab: Lab) -> None:
    async def start(p: KilnArgs, who: Caller) -> Mapping[str, object]:
        raise CommandRefused(too_hot_text())

    async def options(p: KilnArgs, who: Caller) -> Mapping[str, object]:
        return {"profiles": [{"segments": [describe(s) for s in SCHEDULE.segments]}]}

    lab.registry.register("start", KilnArgs, Role.TECHNICIAN, start, "start a burnout")
    lab.registry.register("start_options", KilnArgs, Role.OBSERVER, options, "choices")
    served = await serve(temperature_unit="F")
    csrf = await served.sign_in()
    refused = await served.refusal(await served.command("start", {"kiln": "kiln1"}, csrf), 409)
    load = engine.loading_temp_c(SCHEDULE)
    band_f = round(SCHEDULE.holdback_band_c * 9 / 5)
    above_f = round((596.0 - load) * 9 / 5)
    assert refused.startswith(f"the kiln is at 1105 °F, {above_f} °F above the loading"), refused
    assert f"({round(load * 9 / 5 + 32)} °F, the target of its first segment" in refused
    assert f"band {band_f} °F)" in refused and "°C" not in refused
    answer = await served.command("start_options", {"kiln": "kiln1"}, csrf)
    segments = (await answer.json())["result"]["profiles"][0]["segments"]
    assert segments[0] == "ramp to 300 °F at 270 °F/h"
    assert not any("°C" in s for s in segments), segments
