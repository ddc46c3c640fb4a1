"""Commissioning the caster's serial ASCII instruments: the TPG 36x gauge and the ADAM-4018.

Both are inputs: labctl switches nothing through them, so there is nothing to inhibit and no
lease. Each command the driver sends is asked once on its own (timed for ``turnaround``);
identity is what the unit says about itself. Framing and parsing are the drivers' protocol
modules (Pfeiffer BG 5195 BEN pp. 67-72 for the gauge; the ADAM-4000 DCON command set for the
module, as ``drivers.tpg36x`` and ``drivers.adam4018`` cite them). Firmware: the module's
``$AAF`` (ADAM 4000 Series User's Manual ch. 5, "Read Firmware Version", p. 5-11, which lists
the 4018 and 4018+); the gauge's ``PNR`` ("program number", found in the TPG 300 manual
BG 800 300 BE p. 55, NOT confirmed for the TPG 36x: a gauge that refuses it gets no firmware,
its error word is read to clear the refusal, and no check fails for it).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from drivers._serial.line import Line
from drivers.adam4018 import protocol as dcon
from drivers.errors import DeviceRejected, DriverError
from drivers.tpg36x import protocol as tpg
from labctl.commission.checks import CheckList, Timings
from labctl.commission.record import SiteDevice
from labctl.config.buses import Adam4018Section, Tpg36xSection
from labctl.config.site import SiteConfig

MBAR = b"0"  # UNI code for mbar (BG 5195 BEN)


@dataclass(frozen=True, slots=True)
class SerialTarget:
    """A serial instrument under commissioning."""

    line: Line
    site: SiteConfig
    dev: SiteDevice
    timeout_s: float  # the line's configured reply timeout


async def _tpg(target: SerialTarget, mnemonic: str, *params: int) -> bytes:
    """One two-step exchange: command, ACK, ENQ, data line (a NAK: DeviceRejected)."""
    timeout, most = target.timeout_s, tpg.MAX_LINE
    async with target.line.transaction() as tx:
        request = tpg.command(mnemonic, *params)
        tpg.check_ack(await tx.ask(request, until=tpg.EOL, timeout_s=timeout, max_bytes=most))
        return await tx.ask(tpg.ENQ, until=tpg.EOL, timeout_s=timeout, max_bytes=most)


async def check_tpg(target: SerialTarget, checks: CheckList) -> None:
    """Every command alone, identity (TID, UNI, PNR where it answers), UNI written back."""
    section = target.site.devices[target.dev.config_name]
    assert isinstance(section, Tpg36xSection)  # the config's role check guarantees it
    timings, refused = Timings(), []
    replies: dict[str, bytes] = {}
    for mnemonic in ("UNI", "TID", f"PR{section.channel}", "ERR"):
        try:
            replies[mnemonic] = await timings.timed(_tpg(target, mnemonic))
        except DriverError as err:
            refused.append(f"{mnemonic}: {err}")
    for key in ("UNI", "TID"):
        if key in replies:
            checks.identity[key] = replies[key].decode("ascii", "replace")
    checks.firmware = await _tpg_firmware(target)
    checks.add(
        "registers",
        not refused,
        f"refused: {'; '.join(refused)}"
        if refused
        else f"UNI, TID, PR{section.channel}, ERR each answered",
    )
    checks.add(
        "identity",
        "TID" in replies,
        f"sensors (TID) {checks.identity.get('TID', 'unread')}; firmware (PNR) "
        f"{checks.firmware or 'not given'}",
    )
    try:
        unit = await _tpg(target, "UNI", 0)
        checks.add("writes", unit == MBAR, f"UNI,0 (mbar) answered unit code {unit!r}")
    except DriverError as err:
        checks.add("writes", False, f"UNI,0 (mbar): {err}")
    timings.report(checks, target.timeout_s)


async def _tpg_firmware(target: SerialTarget) -> str | None:
    """The firmware version (PNR), or None where the gauge does not give it."""
    try:
        return (await _tpg(target, "PNR")).decode("ascii", "replace")
    except DeviceRejected:
        with contextlib.suppress(DriverError):  # reading the error word clears the refusal
            await _tpg(target, "ERR")
    except DriverError:
        pass
    return None


async def _dcon(target: SerialTarget, section: Adam4018Section, text: str) -> str:
    request = dcon.frame(text, with_checksum=section.checksum)
    async with target.line.transaction() as tx:
        reply = await tx.ask(
            request, until=dcon.CR, timeout_s=target.timeout_s, max_bytes=dcon.MAX_REPLY
        )
    return dcon.unframe(reply, with_checksum=section.checksum)


def _machine_max_c(target: SerialTarget) -> float:
    """The hottest the thermocouple must read: the caster's crucible or the kiln's maximum."""
    caster = target.site.casters.get(target.dev.machine)
    if caster is not None:
        return caster.crucible_max_c
    return target.site.kilns[target.dev.machine].max_temp_c


async def check_adam(target: SerialTarget, checks: CheckList) -> None:
    """Name, configuration and firmware ($AAM, $AA2, $AAF), the channel, and its range."""
    section = target.site.devices[target.dev.config_name]
    assert isinstance(section, Adam4018Section)
    aa = f"{section.address:02X}"
    timings, replies, refused = Timings(), dict[str, str](), list[str]()
    commands = {"M": f"${aa}M", "2": f"${aa}2", "F": f"${aa}F", "N": f"#{aa}{section.channel}"}
    for key, command in commands.items():
        try:
            replies[key] = await timings.timed(_dcon(target, section, command))
        except DriverError as err:
            refused.append(f"{command}: {err}")
    checks.add(
        "registers",
        not refused,
        f"refused: {'; '.join(refused)}"
        if refused
        else "$AAM, $AA2, $AAF and the channel answered",
    )
    try:
        name = dcon.parse_name(replies["M"], section.address)
        config = dcon.parse_config(replies["2"], section.address)
    except (KeyError, DriverError) as err:
        checks.add("identity", False, f"name or configuration unreadable: {err}")
        timings.report(checks, target.timeout_s)
        return
    checks.identity.update(module=name, config=replies["2"])
    checks.firmware = replies.get("F", "")[3:] or None
    tc = dcon.TC_TYPES.get(config.type_code)
    units = config.format_bits == dcon.ENGINEERING_UNITS
    checks.add(
        "identity",
        tc is not None and units,
        f"ADAM-{name} at {aa}: input type {config.type_code:02X} "
        f"({'type ' + tc[0] + ' thermocouple' if tc else 'not a thermocouple'}), data format "
        f"{config.data_format:02X} ({'engineering units' if units else 'not engineering units'})",
    )
    if tc is not None:
        maximum = _machine_max_c(target)
        checks.add(
            "ranges",
            maximum <= tc[2],
            f"type {tc[0]} reads {tc[1]:g} °C to {tc[2]:g} °C; the machine goes to {maximum:g} °C",
            range_hi_dc=round(tc[2] * 10),
        )
    timings.report(checks, target.timeout_s)
