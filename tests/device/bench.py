"""A site file around one bench device, so ``labctl commission`` can check it.

``--device=FAMILY:PORT[:UNIT]``: PORT is a serial device (``/dev/ttyUSB0``) or Modbus TCP
``HOST:TCPPORT``; UNIT is the Modbus unit, the ADAM-4018 address or the TPG channel. The
machine around it is a kiln (a Eurotherm, streamed, so its fallback is required) or a caster
whose other roles are placeholders on links that are never opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FAMILIES = ("eurotherm3200", "omron_e5cc", "iomodule", "delta_vfd", "tpg36x", "adam4018")
SERIAL = ("tpg36x", "adam4018")
#: family -> the caster role it plays (the Eurotherm is a kiln's controller instead)
ROLE = {
    "omron_e5cc": "crucible",
    "iomodule": "io",
    "delta_vfd": "drive",
    "tpg36x": "gauge",
    "adam4018": "crucible_tc",
}
#: placeholders for the caster's other roles: never opened (only the device under test is)
_PLACEHOLDERS = {
    "crucible": 'family = "omron_e5cc"\nbus = "unused"\nunit = 1',
    "io": 'family = "iomodule"\nbus = "unused"\nunit = 2',
    "gauge": 'family = "tpg36x"\nline = "unused_line"',
    "drive": 'family = "delta_vfd"\nbus = "unused"\nunit = 3',
}


class BadSpec(ValueError):
    """A ``--device`` value that cannot be read."""


@dataclass(frozen=True, slots=True)
class BenchDevice:
    """The device ``--device`` names."""

    family: str
    port: str  # a serial path, or host:port
    unit: int | None

    @classmethod
    def parse(cls, spec: str) -> BenchDevice:
        family, _, rest = spec.partition(":")
        if family not in FAMILIES or not rest:
            raise BadSpec(f"--device={spec}: FAMILY:PORT[:UNIT] with FAMILY one of {FAMILIES}")
        parts = rest.split(":")
        serial = rest.startswith("/")
        width = 1 if serial else 2  # a path, or host and TCP port
        if len(parts) not in (width, width + 1):
            raise BadSpec(f"--device={spec}: PORT is /dev/... or HOST:TCPPORT, then :UNIT")
        if not serial and family in SERIAL:
            raise BadSpec(f"--device={spec}: a {family} is on a serial line (/dev/...)")
        try:
            unit = int(parts[width]) if len(parts) > width else None
        except ValueError:
            raise BadSpec(f"--device={spec}: UNIT must be a number") from None
        return cls(family, ":".join(parts[:width]), unit)

    @property
    def device(self) -> str:
        """Its machine-and-role name in the bench site."""
        return "bench" if self.family == "eurotherm3200" else f"bench.{ROLE[self.family]}"

    def _link(self, baudrate: int, parity: str) -> str:
        serial = f'port = "{self.port}"\nbaudrate = {baudrate}\nparity = "{parity}"\n'
        if self.family in SERIAL:
            return f"[lines.dut_line]\n{serial}"
        if self.port.startswith("/"):
            return f'[buses.dut_bus]\nkind = "rtu"\n{serial}'

        host, port = self.port.split(":")
        return f'[buses.dut_bus]\nkind = "tcp"\nhost = "{host}"\nport = {port}\n'

    def _section(self) -> str:
        if self.family == "tpg36x":
            return f'family = "tpg36x"\nline = "dut_line"\nchannel = {self.unit or 1}'
        if self.family == "adam4018":
            return f'family = "adam4018"\nline = "dut_line"\naddress = {self.unit or 1}'
        return f'family = "{self.family}"\nbus = "dut_bus"\nunit = {self.unit or 1}'

    def site(self, *, state: Path, key: Path, baudrate: int, parity: str) -> str:
        """The bench site: the device, its machine, a ledger signed with ``key``."""
        text = (
            f'[lab]\nname = "bench"\nstate_dir = "{state}"\n'
            f'[ledger]\norigin = "bench.labctl.invalid/ledger/v1"\nkey_files = ["{key}"]\n'
            + self._link(baudrate, parity)
            + f"[devices.dut]\n{self._section()}\n"
        )
        if self.family == "eurotherm3200":
            return text + '[kilns.bench]\ncontroller = "dut"\nmax_temp_c = 800\nmode = "stream"\n'
        role = ROLE[self.family]
        kind = "centrifugal" if role == "drive" else "vacuum"
        needed = ("crucible", "io", "drive" if kind == "centrifugal" else "gauge")
        text += '[buses.unused]\nkind = "tcp"\nhost = "127.0.0.1"\nport = 1\n'
        text += '[lines.unused_line]\nport = "/nonexistent/labctl-bench-placeholder"\n'
        roles = {r: f"placeholder_{r}" for r in needed} | {role: "dut"}
        for r, name in roles.items():
            if name != "dut":
                text += f"[devices.{name}]\n{_PLACEHOLDERS[r]}\n"
        text += f'[casters.bench]\nkind = "{kind}"\ncrucible_max_c = 1250\n'
        text += "accept_crucible_without_lease = true\n"
        return text + "".join(f'{r} = "{name}"\n' for r, name in roles.items())
