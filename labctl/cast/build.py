"""Casters from the site config: drivers on their buses and serial lines, then runners."""

from __future__ import annotations

import logging
from collections.abc import Callable

from drivers._modbus.device import ModbusDevice
from drivers._serial.line import SerialLine, SerialSettings
from drivers.adam4018 import Adam4018
from drivers.capabilities import TemperatureController
from drivers.clock import Clock
from drivers.delta_vfd import DeltaVfd
from drivers.families import FAMILIES
from drivers.iomodule import IoModule
from drivers.tpg36x import Tpg36x
from labctl.cast.devices import CasterDevices
from labctl.cast.runner import CasterRunner
from labctl.config.buses import Adam4018Section, Tpg36xSection
from labctl.config.caster import CasterSection
from labctl.config.site import SiteConfig
from labctl.runs.store import RunStore

log = logging.getLogger(__name__)

ModbusFactory = Callable[[str], ModbusDevice]


class DeviceParts:
    """Makes each role's driver for one site."""

    def __init__(self, site: SiteConfig, modbus: ModbusFactory, clock: Clock) -> None:
        self._site, self._modbus, self._clock = site, modbus, clock
        self._lines = {
            name: SerialLine(
                SerialSettings(
                    port=cfg.port, baudrate=cfg.baudrate, parity=cfg.parity, stopbits=cfg.stopbits
                )
            )
            for name, cfg in site.lines.items()
        }

    def line(self, name: str) -> SerialLine:
        """The serial line ``[lines.name]``, shared by every driver on it."""
        return self._lines[name]

    def crucible(self, name: str) -> TemperatureController:
        device = self._modbus(name)
        family = self._site.devices[name].family
        make = FAMILIES[family].controller
        assert make is not None  # the config's role checks guarantee a controller family
        return make(device)

    def gauge(self, name: str) -> Tpg36x:
        dev = self._site.devices[name]
        assert isinstance(dev, Tpg36xSection)  # the config's role checks guarantee it
        line = self._site.lines[dev.line]
        return Tpg36x(
            self._lines[dev.line], channel=dev.channel, clock=self._clock, timeout_s=line.timeout_s
        )

    def thermocouple(self, name: str) -> Adam4018:
        dev = self._site.devices[name]
        assert isinstance(dev, Adam4018Section)
        return Adam4018(
            self._lines[dev.line],
            address=dev.address,
            channel=dev.channel,
            checksum=dev.checksum,
            clock=self._clock,
            timeout_s=self._site.lines[dev.line].timeout_s,
        )

    def devices(self, cfg: CasterSection) -> CasterDevices:
        return CasterDevices(
            names=cfg.roles(),
            crucible=self.crucible(cfg.crucible),
            io=IoModule(self._modbus(cfg.io), lease_s=cfg.io_lease_s),
            crucible_tc=None if cfg.crucible_tc is None else self.thermocouple(cfg.crucible_tc),
            gauge=None if cfg.gauge is None else self.gauge(cfg.gauge),
            drive=None
            if cfg.drive is None
            else DeltaVfd(self._modbus(cfg.drive), comm_timeout_s=cfg.drive_lease_s),
        )


def build_casters(
    site: SiteConfig,
    modbus: ModbusFactory,
    clock: Clock,
    store: RunStore,
    publish: Callable[[dict[str, object], float], None] | None = None,
    parts: DeviceParts | None = None,
) -> dict[str, CasterRunner]:
    """One runner per ``[casters.NAME]``; serial lines open on first use.

    ``parts``: the lab's, so its serial lines are the ones the lab's other users share.
    """
    parts = DeviceParts(site, modbus, clock) if parts is None else parts
    runners: dict[str, CasterRunner] = {}
    for name, cfg in site.casters.items():
        runners[name] = CasterRunner(
            name=name,
            limits=cfg.limits(),
            devices=parts.devices(cfg),
            clock=clock,
            store=store,
            tick_s=cfg.tick_s,
            publish=publish,
        )
        family = site.devices[cfg.crucible].family
        if not FAMILIES[family].lease:
            log.warning(
                "%s: crucible controller %s (%s) has no comms watchdog: heat streamed to it "
                "stays on if labctl dies; the site config accepts this risk",
                name,
                cfg.crucible,
                family,
            )
    return runners
