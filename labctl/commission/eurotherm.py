"""Commissioning a Eurotherm 3216/3216P (a kiln's controller or a caster's crucible).

Facts from HA028651 (3200 Engineering/User Manual), as cited in ``drivers.eurotherm3200``:
dEc.P (525), range lo/hi (11/12), remote SP (26) selected by 276, StAt (75) bit 14 "remote SP
fail", T.STAT (23). The remote-SP comms-loss timeout of a 3216 is not in the pages read, so
the site configures no lease for it: commissioning stops talking for ``lease_wait_s`` and
checks that the unit fell back (bit 14 set, working SP = the target SP labctl arms as the
fallback), which is what a streamed run relies on. The loop stays in manual at 0 % meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping

from drivers.eurotherm3200 import IDENTITY, MAP, Eurotherm3200
from drivers.eurotherm3200.registers import DECIMALS, SEGMENTS, SetpointSource, Status, TStat
from labctl.commission.checks import CheckList
from labctl.commission.modbus_family import ModbusFamily, ModbusTarget, Refused, identity_of

PROBE_OFFSET_C = 10.0  # the remote SP written for the lease test: fallback + this (or - this)
SETTLE_S = 1.0  # clock seconds for the unit to take up the remote SP before reading it


def _machine(target: ModbusTarget) -> tuple[float, float, str]:
    """(maximum °C, fallback SP °C, mode) of the machine this controller drives."""
    kiln = target.site.kilns.get(target.dev.machine)
    if kiln is not None:
        return kiln.max_temp_c, kiln.fallback_sp_c, kiln.mode
    return target.site.casters[target.dev.machine].crucible_max_c, 0.0, "stream"


async def _inhibit(target: ModbusTarget) -> str:
    tstat = int((await target.device.read(("tstat",))).values["tstat"])
    if tstat in (TStat.RUN, TStat.HOLD):
        raise Refused(
            f"{target.dev.device}: the controller's programmer is in {TStat(tstat).name} (T.STAT, "
            "address 23): a burnout may be running; end it at the controller or with labctl first"
        )
    await Eurotherm3200(target.device).safe_state()
    return "program reset, loop in manual, output 0 % (T.STAT 23, mode 273, manual OP 3 read back)"


def _identify(target: ModbusTarget, values: Mapping[str, float], checks: CheckList) -> bool:
    complete = identity_of(values, tuple(IDENTITY), checks)
    decimals = values.get("decimals")
    ok = checks.add(
        "identity",
        complete and decimals == DECIMALS,
        f"identity registers {', '.join(checks.identity.values()) or 'unread'} "
        f"({', '.join(IDENTITY)}); decimal point dEc.P (525) = "
        f"{'unread' if decimals is None else f'{decimals:g}'}, labctl's table expects {DECIMALS}",
    )
    if "range_lo" not in values or "range_hi" not in values:
        checks.add("ranges", False, "range lo/hi (11/12) did not read")
        return ok
    low, high = values["range_lo"], values["range_hi"]
    maximum, fallback, _mode = _machine(target)
    checks.add(
        "ranges",
        low <= fallback and maximum <= high,
        f"the unit's range is {low:g} °C to {high:g} °C (11/12); the machine needs the fallback SP "
        f"{fallback:g} °C and its maximum {maximum:g} °C inside it",
        range_lo_dc=round(low * 10),
        range_hi_dc=round(high * 10),
    )
    return ok


async def _writes(target: ModbusTarget) -> str:
    device = target.device
    _maximum, fallback, _mode = _machine(target)
    await device.write("remote_sp", fallback)
    await device.write("manual_op", 0.0)
    return f"remote SP (26) = {fallback:g} °C and manual OP (3) = 0 % read back"


async def _lease(target: ModbusTarget, checks: CheckList) -> None:
    device, clock = target.device, target.clock
    _maximum, fallback, mode = _machine(target)
    current = (await device.read(("target_sp",))).values["target_sp"]
    if mode == "programmer":  # labctl never writes this EEPROM SP there: it is what falls back
        fallback = current
    elif abs(current - fallback) > MAP["target_sp"].resolution / 2:
        await device.write("target_sp", fallback)  # EEPROM: as arm_stream does, once
    _low, high = MAP["remote_sp"].limits or (0.0, 0.0)
    probe = fallback + (PROBE_OFFSET_C if fallback + PROBE_OFFSET_C <= high else -PROBE_OFFSET_C)
    await device.write("remote_sp", probe)
    await device.write("sp_select", SetpointSource.REMOTE)
    try:
        await clock.sleep(SETTLE_S)
        before = (await device.read(("status", "working_sp"))).values
        await clock.sleep(max(0.0, target.lease_wait_s - SETTLE_S))
        after = (await device.read(("status", "working_sp"))).values
    finally:
        await device.write("sp_select", SetpointSource.LOCAL)
    step = MAP["working_sp"].resolution / 2
    took = Status.REMOTE_SP_FAIL not in Status(int(before["status"]))
    took = took and abs(before["working_sp"] - probe) <= step
    fell = Status.REMOTE_SP_FAIL in Status(int(after["status"]))
    fell = fell and abs(after["working_sp"] - fallback) <= step
    seen = (
        f"remote SP {probe:g} °C {'taken' if took else 'NOT taken'} (working SP "
        f"{before['working_sp']:g} °C); after {target.lease_wait_s:g} s without a write: StAt b14 "
        f"{'set' if fell else 'NOT set or'} working SP {after['working_sp']:g} °C "
        f"(fallback {fallback:g} °C)"
    )
    if mode == "programmer":
        seen += "; programmer mode: the controller's programmer runs the burnout, not this fallback"
    checks.add(
        "lease",
        (took and fell) or mode == "programmer",
        seen,
        silent_ms=round(target.lease_wait_s * 1000),
        fallback_dc=round(fallback * 10),
        working_sp_dc=round(after["working_sp"] * 10),
    )


#: What the driver reads besides the poll and identity: the fallback, and the program.
_DOWNLOAD = (
    "ramp_units",
    "prog_dwell_units",
    "prog_holdback",
    "prog_end_type",
    "sbrk_op",
    *(f"seg{n}_{part}" for n in range(1, SEGMENTS + 1) for part in ("target", "rate", "dwell")),
)

FAMILY = ModbusFamily(
    _inhibit, _identify, _writes, _lease, tuple(IDENTITY),
    reads={"stream arming": ("sbrk_op", "target_sp"), "program download": _DOWNLOAD},
)  # fmt: skip
