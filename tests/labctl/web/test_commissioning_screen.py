"""The touchscreen and commissioning: the live state says which machines are not commissioned,
the supervisor's screen lists each device through the ``commissioning`` command, and the
screen is routed and linked for supervisors only.

The server is the ``serve`` fixture of conftest.py (a real registry, LabView and sessions over
real sockets); the query is the daemon's own, over a site whose kiln ``kiln1`` streams.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

from labctl.alarm_board import AlarmBoard
from labctl.commission.daemon_commands import register_commissioning_query
from labctl.commission.gate import CommissioningGate
from labctl.commission.record import Commissioning
from labctl.config import SiteConfig
from labctl.runs.loop import MachineLoop

if TYPE_CHECKING:
    from tests.labctl.web.conftest import Lab, Serve

STATIC = Path(__file__).resolve().parents[3] / "labctl" / "web" / "static"
SITE = SiteConfig.model_validate(
    {
        "lab": {"name": "t", "allow_uncommissioned": ["kiln1"]},
        "buses": {"a": {"kind": "tcp", "host": "127.0.0.1"}},
        "devices": {"tc1": {"family": "eurotherm3200", "bus": "a"}},
        "kilns": {"kiln1": {"controller": "tc1", "mode": "stream", "max_temp_c": 800}},
    }
)


async def _no_records() -> list[Commissioning]:
    return []


def _register(lab: Lab) -> None:
    loop = SimpleNamespace(uncommissioned=())  # what the gate sets on a machine's loop
    machines = cast(dict[str, MachineLoop], {"kiln1": loop})
    gate = CommissioningGate(SITE, machines, AlarmBoard(lambda: 0.0))
    register_commissioning_query(lab.registry, SITE, gate, _no_records)


async def test_the_live_state_says_which_devices_are_not_commissioned(
    serve: Serve, lab: Lab
) -> None:
    served = await serve()
    lab.set_state("idle", uncommissioned=("kiln1",))
    kiln = served.view.state()["kilns"]
    assert isinstance(kiln, dict)
    assert (kiln["kiln1"]["commissioned"], kiln["kiln1"]["uncommissioned"]) == (False, ("kiln1",))
    lab.set_state("idle", uncommissioned=())
    assert served.view.state()["kilns"]["kiln1"]["commissioned"] is True  # type: ignore[index]


async def test_only_a_supervisor_reads_the_devices_and_their_records(
    serve: Serve, lab: Lab
) -> None:
    _register(lab)
    served = await serve()
    tech = await served.sign_in()
    reason = await served.refusal(await served.command("commissioning", {}, tech), 403)
    assert "needs a supervisor" in reason
    boss = await served.sign_in("2002", "1357")
    resp = await served.command("commissioning", {}, boss)
    assert resp.status == 200
    [row] = (await resp.json())["result"]["devices"]
    assert (row["device"], row["config_name"], row["family"]) == ("kiln1", "tc1", "eurotherm3200")
    assert (row["commissioned"], row["streamed"], row["last"]) == (False, True, None)
    assert row["command"] == "labctl commission --config SITE kiln1"


def test_the_screen_is_routed_and_linked_for_supervisors() -> None:
    app = (STATIC / "app.js").read_text()
    assert "import { commissioningScreen } from './screens/commissioning.js';" in app
    assert re.search(r"commissioning: \(\) => commissioningScreen\(ctx\)", app)
    topbar = (STATIC / "topbar.js").read_text()
    assert "show(links.commissioning, session.user?.role === 'supervisor');" in topbar
    screen = (STATIC / "screens" / "commissioning.js").read_text()
    assert "runFrom(refresh, ctx, 'commissioning', {})" in screen
