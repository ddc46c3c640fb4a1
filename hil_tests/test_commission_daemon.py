"""Commissioning from the running daemon (the touchscreen's supervisor screen uses the same
commands): ``commission`` against the simulated caster's I/O module over the daemon's own bus,
the record signed into the daemon's ledger, the standing alarm narrowed to what is left.

The real daemon in a subprocess, the simulators over loopback TCP and ptys, commands over the
control socket (a supervisor: the socket's own user).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hil_tests.support.caster import CasterRig, caster_rig
from labctl.ledger import keys
from labctl.sim.site import LEDGER_ORIGIN

pytestmark = [pytest.mark.hil]


async def _row(rig: CasterRig, device: str) -> dict[str, Any]:
    reply = await rig.command("commissioning")
    assert reply["ok"], reply
    rows: list[dict[str, Any]] = reply["result"]["devices"]
    return next(r for r in rows if r["device"] == device)


def _standing(alarms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in alarms if a["source"] == "caster1.commissioning" and a["active"]]


@pytest.mark.timeout(180)
async def test_the_running_daemon_commissions_a_device_and_narrows_the_alarm(tmp_path):
    key = tmp_path / "ledger.key"
    keys.generate(key, LEDGER_ORIGIN)
    async with caster_rig(tmp_path, "vacuum", flask_c=20.0, ledger_key=key) as rig:
        await rig.start_daemon()
        caster = await rig.caster()
        assert caster is not None and "caster1.io" in caster["uncommissioned"]
        [before] = _standing((await rig.command("alarms"))["result"]["alarms"])
        assert before["text"].startswith("not commissioned: crucible, io,"), before

        started = await rig.command("commission", device="caster1.io")
        assert started["ok"] and started["result"]["outcome"] is None, started
        # the job waits out the module's 60 s watchdog (1.2 s here): one commissioning at a time
        again = await rig.command("commission", device="caster1.gauge")
        assert not again["ok"] and "caster1.io is being commissioned by" in again["error"], again

        for _ in range(600):
            row = await _row(rig, "caster1.io")
            if row["job"]["outcome"] is not None:
                break
            await asyncio.sleep(0.1)
        checks = {c["name"]: c["passed"] for c in row["job"]["checks"]}
        assert row["job"]["outcome"] == "passed", row["job"]
        assert checks["lease"] and checks["inhibit"], checks
        assert row["commissioned"] and row["last"]["passed"] and row["last"]["current"], row

        caster = await rig.wait_for(lambda c: "caster1.io" not in c["uncommissioned"], 10)
        assert caster["uncommissioned"] == [
            "caster1.crucible",
            "caster1.crucible_tc",
            "caster1.gauge",
        ]
        [after] = _standing((await rig.command("alarms"))["result"]["alarms"])
        assert after["text"].startswith("not commissioned: crucible, crucible_tc, gauge"), after
        # the caster's loop took its devices back: fresh readings, commands answered again
        await rig.wait_for(lambda c: not c["stale"] and c["crucible_c"] is not None, 10)
        abort = await rig.command("cast_abort", caster="caster1", reason="no cast to abort")
        assert "being commissioned" not in str(abort), abort
