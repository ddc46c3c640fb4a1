"""The line budget: a site whose serial lines cannot carry a tick's transactions is refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from drivers import eurotherm3200
from drivers._modbus.bus import ModbusBus
from drivers._modbus.fake_wire import FakeWire
from drivers.clock import VirtualClock
from drivers.wire_time import TURNAROUND, CharFormat
from labctl.config.line_budget import (
    MARGIN,
    Exchange,
    check_line_budget,
    dcon_exchanges,
    modbus_exchanges,
    serial_lines,
    tpg_exchanges,
)
from labctl.config.site import SiteConfig, load_site
from labctl.errors import ConfigError

RS485 = """
[buses.rs485]
kind = "rtu"
port = "/dev/ttyUSB0"
baudrate = {baud}
"""
LAB = """
[lab]
name = "t"
tick_s = {tick}
state_dir = "{tmp}/state"
"""
KILN = """
[devices.tc{n}]
family = "eurotherm3200"
bus = "rs485"
unit = {n}
[kilns.k{n}]
controller = "tc{n}"
mode = "{mode}"
max_temp_c = 800
"""


def _site(tmp_path: Path, kilns: int, *, tick: float = 2.0, baud: int = 9600) -> Path:
    text = RS485.format(baud=baud) + LAB.format(tmp=tmp_path, tick=tick)
    text += "".join(KILN.format(n=n, mode="stream") for n in range(1, kilns + 1))
    path = tmp_path / "site.toml"
    path.write_text(text)
    return path


def _needed_s(site: SiteConfig) -> float:
    (line,) = serial_lines(site)
    return line.needed_s()


def test_the_manuals_worked_example() -> None:
    """HA026230 §3.23: one word by FC03 at 19200 8N1 is 6 ms of command and 6.5 ms of reply."""
    read_one = Exchange(request=8, answer=9, turnaround_s=0.0)
    assert read_one.wire_s(CharFormat(19200), rtu=True) == pytest.approx(0.0125)
    assert read_one.wire_s(CharFormat(19200), rtu=False) == pytest.approx(17 * 10 / 19200)


def test_the_budget_reads_the_blocks_the_bus_reads() -> None:
    bus = ModbusBus(FakeWire(), name="b", clock=VirtualClock())
    dev = bus.device(
        name="tc", unit=1, regmap=eurotherm3200.MAP, max_block_registers=125, max_fill_registers=50
    )
    _, exchanges = modbus_exchanges("eurotherm3200", max_block=125, max_fill=50, streams=False)
    assert [ex.answer for ex in exchanges] == [5 + 2 * b.count for b in dev.plan()]
    turn = TURNAROUND["eurotherm3200"]
    assert [ex.turnaround_s for ex in exchanges] == [turn.of(b.count) for b in dev.plan()]


def test_a_streamed_setpoint_adds_a_write_and_its_read_back(tmp_path: Path) -> None:
    _, reads = modbus_exchanges("eurotherm3200", max_block=125, max_fill=50, streams=False)
    _, streamed = modbus_exchanges("eurotherm3200", max_block=125, max_fill=50, streams=True)
    assert streamed[: len(reads)] == reads
    assert [(ex.request, ex.answer) for ex in streamed[len(reads) :]] == [(8, 8), (8, 7)]
    path = _site(tmp_path, 1)
    path.write_text(path.read_text().replace('mode = "stream"', 'mode = "programmer"'))
    (line,) = serial_lines(load_site(path))
    assert line.duties[0].exchanges == reads


def test_a_site_that_fits_loads(tmp_path: Path) -> None:
    site = load_site(_site(tmp_path, 2))
    assert _needed_s(site) <= MARGIN * site.lab.tick_s


def test_a_line_over_budget_is_refused_naming_line_numbers_and_remedies(tmp_path: Path) -> None:
    path = _site(tmp_path, 4, tick=1.0)
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: buses.rs485: "), text
    found = re.search(r"need (\d+) ms of wire time per tick at 9600 baud", text)
    assert found is not None, text
    each = [int(ms) for ms in re.findall(r"\) (\d+) ms every 1000 ms", text)]
    assert len(each) == 4
    assert abs(int(found[1]) - sum(each)) <= 2  # rounded per device
    assert "shortest tick (1000 ms, kilns.k1) = 500 ms" in text
    for n in range(1, 5):
        assert f"tc{n} (kilns.k{n}, " in text
    assert "Raise the baud rate (" in text and "lengthen the tick" in text
    assert "split the devices over more lines" in text


def test_the_boundary_is_the_margin_of_the_tick(tmp_path: Path) -> None:
    needed = _needed_s(load_site(_site(tmp_path, 3, tick=60.0)))
    at_limit = needed / MARGIN
    load_site(_site(tmp_path, 3, tick=at_limit * (1 + 1e-9)))
    with pytest.raises(ConfigError, match=r"buses\.rs485"):
        load_site(_site(tmp_path, 3, tick=at_limit * (1 - 1e-6)))


def test_the_remedy_names_a_baud_rate_that_fits(tmp_path: Path) -> None:
    path = _site(tmp_path, 2, tick=1.0, baud=2400)
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    found = re.search(r"at (\d+) baud they need (\d+) ms", str(caught.value))
    assert found is not None, caught.value
    faster, needed_ms = int(found[1]), int(found[2])
    assert needed_ms <= 500
    load_site(_site(tmp_path, 2, tick=1.0, baud=faster))
    if faster // 2 > 2400:  # the slowest rate that fits is named
        with pytest.raises(ConfigError):
            load_site(_site(tmp_path, 2, tick=1.0, baud=faster // 2))


def test_the_shortest_tick_on_a_shared_line_sets_the_budget(tmp_path: Path) -> None:
    """A caster ticking every 0.2 s shares the kiln's line: half of 0.2 s is the budget."""
    path = _site(tmp_path, 1, tick=2.0, baud=115200)
    path.write_text(
        path.read_text()
        + """
[devices.io1]
family = "iomodule"
bus = "rs485"
unit = 9
[devices.crucible1]
family = "eurotherm3200"
bus = "rs485"
unit = 8
[lines.tc]
port = "/dev/ttyUSB1"
[devices.gauge1]
family = "tpg36x"
line = "tc"
[casters.c1]
kind = "vacuum"
crucible = "crucible1"
io = "io1"
gauge = "gauge1"
crucible_max_c = 1200
tick_s = 0.2
stale_after_s = 5
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    assert "shortest tick (200 ms, casters.c1) = 100 ms" in str(caught.value)


def test_an_ascii_line_has_its_own_budget(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(
        LAB.format(tmp=tmp_path, tick=2.0)
        + """
[lines.core]
port = "/dev/ttyUSB2"
baudrate = 1200
[devices.tc1]
family = "adam4018"
line = "core"
checksum = true
[buses.b]
kind = "tcp"
host = "127.0.0.1"
[devices.ctl]
family = "eurotherm3200"
bus = "b"
[kilns.k1]
controller = "ctl"
flask_tc = "tc1"
max_temp_c = 800
"""
    )
    site = load_site(path)
    (line,) = serial_lines(site)
    assert line.field == "lines.core"
    (ex,) = line.duties[0].exchanges
    assert (ex.request, ex.answer) == (7, 11)  # "#010" + checksum + CR, ">+0900.0" + checksum + CR
    assert line.needed_s() == pytest.approx(18 * 10 / 1200 + TURNAROUND["adam4018"].single_s)
    assert check_line_budget(site) is None


def test_accelerated_test_rigs_are_not_checked(tmp_path: Path) -> None:
    path = _site(tmp_path, 4, tick=1.0)
    path.write_text(path.read_text().replace("tick_s = 1.0", "tick_s = 1.0\nclock_speed = 1000"))
    assert len(load_site(path).kilns) == 4


README = Path(__file__).resolve().parents[2] / "docs" / "devices-and-commissioning.md"
README_ROWS = {  # the README's line-budget table: label -> (family, streams)
    "Eurotherm 3216, stream-mode kiln or crucible": ("eurotherm3200", True),
    "Eurotherm 3216, programmer-mode kiln": ("eurotherm3200", False),
    "Omron E5CC crucible (streamed)": ("omron_e5cc", True),
    "I/O module": ("iomodule", False),
    "Delta VFD-B arm drive": ("delta_vfd", False),
    "Pfeiffer TPG 36x gauge (ASCII line)": ("tpg36x", False),
    "ADAM-4018 thermocouple (ASCII line)": ("adam4018", False),
}


def test_the_readme_table_is_what_the_budget_computes() -> None:
    section = README.read_text().split("## Before the first burnout on real equipment")[1]
    rows = {
        cells[0]: cells[1:]
        for line in section.split("\n## ")[0].splitlines()
        if line.startswith("| ") and (cells := [c.strip() for c in line.strip("|").split("|")])
    }
    for label, (family, streams) in README_ROWS.items():
        if family == "tpg36x":
            exchanges, rtu = tpg_exchanges(1), False
        elif family == "adam4018":
            exchanges, rtu = dcon_exchanges(1, 0, checksum=False), False
        else:
            what, exchanges = modbus_exchanges(family, max_block=125, max_fill=50, streams=streams)
            rtu = True
            assert rows[label][0].startswith(what.split(" + ")[0]), (label, what)
        wire = [
            f"{sum(ex.wire_s(CharFormat(baud), rtu=rtu) for ex in exchanges) * 1000:.0f} ms"
            for baud in (9600, 19200, 115200)
        ]
        assert rows[label][2:] == wire, label
