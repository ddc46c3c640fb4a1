"""Commissioning the centrifugal arm's Delta VFD-B drive.

Inhibit is the driver's connect (comms-loss treatment Pr.09-02 = 1 "warn and ramp to stop"
and time-out Pr.09-03 = the caster's ``drive_lease_s``, written only when they differ) and
STOP (2000H) read back. The ``lease`` check reads 09-02 and 09-03 back after the other checks:
the drive stops the arm by its own ramp when the host is silent for the lease. Facts: the VFD-B
manual's group 9 summary and Delta's address list, as ``drivers.delta_vfd`` cites them.
"""

from __future__ import annotations

from collections.abc import Mapping

from drivers.delta_vfd import IDENTITY, MAP, DeltaVfd
from drivers.delta_vfd.registers import CommLossAction
from labctl.commission.checks import CheckList
from labctl.commission.modbus_family import ModbusFamily, ModbusTarget, identity_of


async def _inhibit(target: ModbusTarget) -> str:
    drive = DeltaVfd(target.device, comm_timeout_s=target.caster().drive_lease_s)
    await drive.connect()
    await drive.safe_state()
    return "STOP (2000H) read back; comms-loss stop armed (Pr.09-02, 09-03)"


def _identify(target: ModbusTarget, values: Mapping[str, float], checks: CheckList) -> bool:
    complete = identity_of(values, tuple(IDENTITY), checks)
    max_hz = values.get("max_freq", 0.0)
    return checks.add(
        "identity",
        complete and max_hz > 0,
        f"identity code Pr.00-00 = {checks.identity.get('drive_id', 'unread')}, maximum "
        f"output frequency Pr.01-00 = {max_hz:g} Hz",
        max_freq_chz=round(max_hz * 100),
    )


async def _writes(target: ModbusTarget) -> str:
    await target.device.write("freq_cmd", 0.0)
    return "frequency command (2001H) = 0.00 Hz read back, drive stopped"


async def _lease(target: ModbusTarget, checks: CheckList) -> None:
    lease = target.caster().drive_lease_s
    values = (await target.device.read(("comm_fault_treatment", "comm_timeout"))).values
    treatment, timeout = int(values["comm_fault_treatment"]), values["comm_timeout"]
    ok = treatment == CommLossAction.WARN_RAMP_STOP
    ok = ok and abs(timeout - lease) <= MAP["comm_timeout"].resolution / 2
    checks.add(
        "lease",
        ok,
        f"Pr.09-02 = {treatment} (labctl needs {int(CommLossAction.WARN_RAMP_STOP)}, warn and "
        f"ramp to stop), Pr.09-03 = {timeout:g} s (the caster's drive_lease_s is {lease:g} s)",
        treatment=treatment,
        timeout_ms=round(timeout * 1000),
    )


FAMILY = ModbusFamily(
    _inhibit, _identify, _writes, _lease, tuple(IDENTITY),
    reads={"connect": ("max_freq", "comm_fault_treatment", "comm_timeout")},
    write_only=("control",),
)  # fmt: skip
