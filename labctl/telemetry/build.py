"""The telemetry of a site: spool always, InfluxDB and MQTT when the site config names them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from drivers._modbus.bus import ModbusBus
from drivers.clock import Clock
from labctl.cast.runner import CasterRunner
from labctl.commands.registry import CommandRegistry
from labctl.config.site import SiteConfig
from labctl.config.telemetry import read_secret
from labctl.errors import ConfigError
from labctl.kiln.runner import KilnRunner
from labctl.telemetry.mqtt import MqttBridge
from labctl.telemetry.mqtt_topics import MqttSettings, MqttTls
from labctl.telemetry.points import FieldValue
from labctl.telemetry.service import LoopHealth, Telemetry, lateness_ms
from labctl.telemetry.snapshots import PointMaker
from labctl.telemetry.spool import Spool

if TYPE_CHECKING:  # influxdb-client is imported only when the site writes to InfluxDB
    from labctl.telemetry.drain import Drainer
    from labctl.telemetry.influx import InfluxV1Writer, InfluxV2Writer, PointWriter


def _secret(field: str, path: Path | None) -> str | None:
    try:
        return read_secret(path)
    except (OSError, IndexError) as err:
        assert path is not None
        raise ConfigError(path, field, f"cannot read this secret file: {err}") from err


def _writer(site: SiteConfig) -> InfluxV1Writer | InfluxV2Writer | None:
    cfg = site.influx
    if cfg is None:
        return None
    from labctl.telemetry.influx import InfluxV1Writer, InfluxV2Writer

    if cfg.version == 1:
        assert cfg.database is not None
        password = _secret("influx.password_file", cfg.password_file)
        return InfluxV1Writer(cfg.url, cfg.database, cfg.username, password, cfg.timeout_s)
    assert cfg.org is not None
    assert cfg.bucket is not None
    token = _secret("influx.token_file", cfg.token_file) or ""
    return InfluxV2Writer(cfg.url, cfg.org, cfg.bucket, token, cfg.timeout_s)


def _bridge(site: SiteConfig, registry: CommandRegistry) -> MqttBridge | None:
    cfg = site.mqtt
    if cfg is None:
        return None
    tls = MqttTls(cfg.ca_file, cfg.cert_file, cfg.key_file) if cfg.tls else None
    settings = MqttSettings(
        lab=site.lab.name,
        host=cfg.host,
        port=cfg.port,
        username=cfg.username,
        password=_secret("mqtt.password_file", cfg.password_file),
        tls=tls,
        client_id=cfg.client_id,
        keepalive_s=cfg.keepalive_s,
        telemetry_interval_s=cfg.telemetry_interval_s,
        temperature_unit=site.ui.temperature_unit if site.ui is not None else "C",
    )
    users = {name: user.as_role for name, user in site.users.items()}
    return MqttBridge(settings, registry, users)


def _drainer(spool: Spool, writer: PointWriter, batch_size: int) -> Drainer:
    from labctl.telemetry.drain import Drainer

    return Drainer(spool, writer, batch_size=batch_size)


def _bus_counters(bus: ModbusBus) -> Callable[[], Mapping[str, FieldValue]]:
    return lambda: {"transactions": bus.transactions, "errors": bus.errors}


async def build_telemetry(
    site: SiteConfig,
    clock: Clock,
    registry: CommandRegistry,
    buses: Mapping[str, ModbusBus],
    kilns: Mapping[str, KilnRunner],
    casters: Mapping[str, CasterRunner],
) -> Telemetry:
    """The spool (in the state directory), and the drainer and bridge the site asks for."""
    spool = await Spool.open(
        site.state_dir / "telemetry-spool.sqlite", max_points=site.telemetry.spool_max_points
    )
    writer = _writer(site)
    influx_batch = site.influx.batch_size if site.influx is not None else 5000
    telemetry = Telemetry(
        maker=PointMaker(
            lab=site.lab.name, devices={k: c.controller for k, c in site.kilns.items()}
        ),
        spool=spool,
        clock=clock,
        drainer=None if writer is None else _drainer(spool, writer, influx_batch),
        mqtt=_bridge(site, registry),
    )
    if writer is not None:
        telemetry.closers.append(writer.close)
    for name, bus in buses.items():
        telemetry.sources.append(LoopHealth(f"bus.{name}", _bus_counters(bus)))
    loops: list[tuple[str, KilnRunner | CasterRunner]] = [*kilns.items(), *casters.items()]
    for name, loop in loops:
        telemetry.sources.append(LoopHealth(f"control.{name}", _loop_counters(loop, clock)))
    return telemetry


def _loop_counters(
    loop: KilnRunner | CasterRunner, clock: Clock
) -> Callable[[], Mapping[str, FieldValue]]:
    def counters() -> Mapping[str, FieldValue]:
        lateness = lateness_ms(list(loop.lateness_s), clock.speed)
        return {"ticks": loop.ticks, **{k: v for k, v in lateness.items() if v is not None}}

    return counters
