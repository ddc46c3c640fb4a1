"""The caster's I/O module: the :class:`CasterIO` capability over Modbus coils and inputs.

A read is two transactions (FC2 for the inputs, FC1 for the coils read back: the two tables
cannot share a request). ``ModbusDevice.write`` writes one register (one coil, FC5) and reads
it back, so ``set_outputs`` writes the coils one at a time, verified each: the coils that go to
their safe value first (pour, argon, chamber valve, pump, lid release, vent), then the ones
that leave it (vent closed before the pump and chamber valve open, the pour trigger last).
Every request renews the module's comm-safety lease. labctl does not arm it: the manual gives
Modbus only read access to it (:mod:`drivers.iomodule.dcon`), so ``connect`` reads Comm Safety
Enable (40215) and refuses a module that does not have it on, naming what to configure.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping

from drivers._modbus.device import ModbusDevice
from drivers.capabilities import CasterInputs, CasterOutputs
from drivers.errors import ConfigurationError
from drivers.iomodule.dcon import MAX_TIMEOUT_S, how_to_configure
from drivers.iomodule.registers import COILS, SAFE

log = logging.getLogger(__name__)

# Write orders: towards the safe state, then away from it (see the module docstring).
TO_SAFE = ("pour", "argon_valve", "chamber_valve", "pump", "lid_release", "vent_valve")
FROM_SAFE = ("vent_valve", "pump", "chamber_valve", "argon_valve", "lid_release", "pour")


def decode_inputs(at: float, values: Mapping[str, float]) -> CasterInputs:
    """Polled coil and input values -> a reading."""
    return CasterInputs(
        at=at,
        lid_closed=bool(values["lid_closed"]),
        flask_present=bool(values["flask_present"]),
        estop_ok=bool(values["estop_ok"]),
        pump_running=bool(values["pump_running"]),
        outputs=outputs_from(values),
        arm_stopped=bool(values["arm_stopped"]),
    )


def outputs_from(values: Mapping[str, float]) -> CasterOutputs:
    """Coil values by name -> :class:`CasterOutputs`."""
    return CasterOutputs(**{name: bool(values[name]) for name in COILS})


def write_order(outputs: CasterOutputs) -> list[tuple[str, bool]]:
    """(coil, value) in the order ``set_outputs`` writes them."""
    wanted = dataclasses.asdict(outputs)
    safe = [(n, wanted[n]) for n in TO_SAFE if wanted[n] == SAFE[n]]
    unsafe = [(n, wanted[n]) for n in FROM_SAFE if wanted[n] != SAFE[n]]
    return safe + unsafe


class CommSafetyOff(ConfigurationError):
    """The module's comm safety is not enabled: no lease protects the caster's outputs."""


class IoModule:
    """One coil / discrete-input module on a Modbus bus, wired to a caster.

    ``lease_s`` is the comm-safety timeout the site expects the module to hold (named in the
    remedy when it holds none); the module's own setting is what acts.
    """

    def __init__(
        self, device: ModbusDevice, *, lease_s: float, connect_timeout_s: float = 5.0
    ) -> None:
        if not 0 < lease_s <= MAX_TIMEOUT_S:
            raise ConfigurationError(
                f"{device.name}: lease {lease_s} s outside 0..{MAX_TIMEOUT_S} s"
            )
        self._device = device
        self._lease_s = lease_s
        self._connect_timeout_s = connect_timeout_s

    @property
    def name(self) -> str:
        return self._device.name

    async def connect(self) -> None:
        """Wait for the link (the bus checks the module's identity), then check comm safety.

        Raises :class:`CommSafetyOff` unless Comm Safety Enable (40215) reads 1; nothing is
        written.
        """
        await self._device.wait_connected(self._connect_timeout_s)
        values = (await self._device.read(("comm_safety_enable", "comm_safety_flag"))).values
        if values["comm_safety_enable"] != 1:
            raise CommSafetyOff(
                f"{self.name}: comm safety not enabled on the module (40215 = "
                f"{values['comm_safety_enable']:g}): the I/O lease is not armed, so a dead host "
                f"would leave the pump and valves as they are; "
                + how_to_configure(self._lease_s, self._device.unit)
            )
        if values["comm_safety_flag"]:
            log.warning("%s: comms watchdog had tripped; coils are in their safe state", self.name)

    async def read(self) -> CasterInputs:
        sample = await self._device.read()
        return decode_inputs(sample.at, sample.values)

    async def set_outputs(self, outputs: CasterOutputs) -> None:
        """Write every coil (verified one by one); renews the lease and clears a tripped flag."""
        for name, value in write_order(outputs):
            await self._device.write(name, value)

    async def safe_state(self) -> None:
        await self.set_outputs(CasterOutputs())


__all__ = ["CommSafetyOff", "IoModule", "decode_inputs", "outputs_from", "write_order"]
