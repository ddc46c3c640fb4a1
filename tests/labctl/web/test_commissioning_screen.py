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
from typing import TYPE_CHECKING, Any, cast

from drivers.clock import VirtualClock
from labctl.alarms import AlarmBoard
from labctl.commission.daemon_commands import register_commissioning_commands
from labctl.commission.daemon_run import LabLinks
from labctl.commission.daemon_side import DaemonCommissioning
from labctl.config.site import SiteConfig
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


def _no_device(name: str) -> Any:
    raise AssertionError(f"nothing is commissioned here ({name})")


def _register(lab: Lab) -> None:
    """The daemon's commissioning commands over SITE, with no ledger (so no records)."""
    loop = SimpleNamespace(uncommissioned=())  # what the gate sets on a machine's loop
    machines = cast(dict[str, MachineLoop], {"kiln1": loop})
    links = LabLinks(_no_device, _no_device)
    daemon = DaemonCommissioning(
        SITE, machines, AlarmBoard(lambda: 0.0), None, links, VirtualClock()
    )
    register_commissioning_commands(lab.registry, daemon)


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
    assert row["job"] is None
    resp = await served.command("commission", {"device": "kiln1"}, boss)
    assert "no [ledger]" in await served.refusal(resp, 409)  # nothing to sign it into


def test_the_screen_is_routed_and_linked_for_supervisors() -> None:
    app = (STATIC / "app.js").read_text()
    assert "import { commissioningScreen } from './screens/commissioning.js';" in app
    assert re.search(r"commissioning: \(\) => commissioningScreen\(ctx\)", app)
    topbar = (STATIC / "topbar.js").read_text()
    assert "show(links.commissioning, session.user?.role === 'supervisor');" in topbar
    screen = (STATIC / "screens" / "commissioning.js").read_text()
    assert "runFrom(refresh, ctx, 'commissioning', {})" in screen
