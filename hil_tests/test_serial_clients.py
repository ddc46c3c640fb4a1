"""The serial simulators, served on ptys as ``labctl sim`` serves a caster rig, read by clients
written from the manuals' framing (hil_tests/support/serial_clients.py), not by our drivers.

pylablib's Pfeiffer driver is not a second client here: its packages pull in scipy and
pandas (pylablib-lightweight) or PyQt5 and numba (pylablib), too heavy for a test dependency.
Checked once by hand instead (drivers/tpg36x/NOTES.md): its TPG260 opens the simulator with
``BAU``, as the client below does first.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drivers._sim.caster_rig import CasterEndpoints, CasterRigSim
from drivers.adam4018.sim import Adam4018Sim
from drivers.clock import ScaledClock
from hil_tests.support.serial_clients import DconManualClient, RawPort, TpgManualClient

pytestmark = [pytest.mark.hil, pytest.mark.timeout(60)]

VALUE = r"[+-]\d\.\d{4}E[+-]\d{2}"  # BG 5195 BEN p. 71: sx.xxxxEsxx, the sign always there
PRX = re.compile(rf"(\d),({VALUE}),(\d),({VALUE})")
MANTISSA = 5e-5  # four decimals of a mantissa in 1..10: half a unit of the last, relative
SILENCE_S = 0.3  # a DCON module answers in milliseconds; 0.3 s of nothing is no answer


@pytest.fixture
async def vacuum_rig(tmp_path: Path) -> AsyncIterator[tuple[CasterRigSim, CasterEndpoints]]:
    rig = CasterRigSim("vacuum")
    # pumped down before it is served, so the Pirani reads inside its range (status 0)
    rig.chamber.step(20.0, pump_on=True, chamber_valve=True, vent_valve=False, argon_valve=False)
    async with rig.serving(clock=ScaledClock(), pty_dir=tmp_path) as ends:
        yield rig, ends


def _within(value: float, bounds: tuple[float, float]) -> bool:
    low, high = min(bounds), max(bounds)
    return low * (1 - MANTISSA) <= value <= high * (1 + MANTISSA)


async def test_the_gauge_answers_a_manual_client(
    vacuum_rig: tuple[CasterRigSim, CasterEndpoints],
) -> None:
    rig, ends = vacuum_rig
    assert ends.gauge is not None
    with RawPort(ends.gauge) as port:
        gauge = TpgManualClient(port)
        assert await gauge.query("BAU") == "0"  # what pylablib's TPG26x asks first
        assert await gauge.query("SEN") == "0,0"  # a Pirani cannot be switched; no head on 2
        assert await gauge.query("FSR") == "5,5"  # 1000 mbar, the default (p. 78)
        assert await gauge.query("UNI") == "0"  # mbar
        before = rig.chamber.chamber_mbar
        status, value = (await gauge.query("PR1") or "").split(",")
        after = rig.chamber.chamber_mbar
        assert status == "0" and re.fullmatch(VALUE, value), value
        assert _within(float(value), (before, after)), (value, before, after)
        assert await gauge.query("QQQ") is None  # an unknown mnemonic: NAK
        assert await gauge.query("ERR") == "0001"  # syntax error, then cleared
        assert await gauge.query("ERR") == "0000"
        before = rig.chamber.chamber_mbar  # the rig's vent is open: the chamber fills meanwhile
        lines = await gauge.continuous(0, lines=2)  # COM,0: every 100 ms, unasked (p. 72)
        after = rig.chamber.chamber_mbar
        for line in lines:
            match = PRX.fullmatch(line)
            assert match is not None, line
            assert match.group(1) == "0" and _within(float(match.group(2)), (before, after))
            assert (match.group(3), match.group(4)) == ("5", "+2.0000E-02")  # no sensor on 2


async def test_the_rigs_thermocouple_module_answers_a_manual_client(
    vacuum_rig: tuple[CasterRigSim, CasterEndpoints],
) -> None:
    rig, ends = vacuum_rig
    with RawPort(ends.tc) as port:
        module = DconManualClient(port)
        assert await module.ask("$01M") == "!014018P"
        assert await module.ask("$012") == "!010F0600"  # type K, 9600 baud, engineering units
        before = rig.crucible.pv_c
        reply = await module.ask("#01") or ""
        after = rig.crucible.pv_c
        values = re.findall(r"[+-]\d{4}\.\d", reply.removeprefix(">"))
        assert reply == ">" + "".join(values) and len(values) == 8, reply  # all eight (p. 5-13)
        assert min(before, after) - 0.05 <= float(values[0]) <= max(before, after) + 0.05
        assert values[1:] == ["+9999.9"] * 7  # nothing wired there
        assert await module.ask("#02") is None  # another address: silence
        module = DconManualClient(port, timeout_s=SILENCE_S)
        assert await module.ask("#03") is None


@pytest.mark.parametrize("checksum", [False, True], ids=["plain", "checksum"])
async def test_a_fed_module_reads_back_what_it_was_fed(tmp_path: Path, checksum: bool) -> None:
    fed = [812.34, 25.0, 1500.0, -5.0, 0.0, 99.96, 1370.0, 640.26]
    sim = Adam4018Sim(lambda: fed, address=0x21, checksum=checksum)
    async with sim.serving(clock=ScaledClock(), pty_link=tmp_path / "tc"):
        with RawPort(tmp_path / "tc") as port:
            module = DconManualClient(port, checksum=checksum)
            expected = ["+0812.3", "+0025.0", "+9999.9", "-0000.0"]  # K: 0..1370 °C
            expected += ["+0000.0", "+0100.0", "+1370.0", "+0640.3"]
            assert await module.ask("#21") == ">" + "".join(expected)
            assert await module.ask("#213") == ">-0000.0"
            assert await module.ask("$21M") == "!214018P"
            assert await module.ask("#22") is None  # wrong address
            assert await module.ask("$219") is None  # not a command: no reply either
            assert await module.ask("%21210F0700") == "?21"  # a baud change without INIT*
        with RawPort(tmp_path / "tc") as port:
            plain = DconManualClient(port, checksum=not checksum, timeout_s=SILENCE_S)
            assert await plain.ask("#21") is None  # the other checksum setting: silence
