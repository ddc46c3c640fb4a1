"""What the command storm throws at the lab: seeded random commands and device faults.

:class:`Generator` draws every kiln, caster, alarm and ledger command, valid and not, in any
order, and bytes that are no command at all; :class:`Faults` switches the simulators'
backdoors on and off (comms loss, silence, an open thermocouple, a leak) and moves the flask
as a technician's hands would. The lab they hit is :mod:`hil_tests.support.storm`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hil_tests.support.chains import flask_id, melt_id
from hil_tests.support.storm import ALLOY, CHAINS, PIECE_CLASS, StormLab


@dataclass
class Generator:
    """Seeded random commands: every kiln and caster command, valid and not, any order."""

    rng: random.Random
    lots: int = 0

    def command(self) -> tuple[str, dict[str, Any]]:
        rng = self.rng
        chain = rng.randrange(CHAINS)
        kiln = "kiln1" if rng.random() < 0.93 else rng.choice(["kiln9", "KILN 1", ""])
        caster = "caster1" if rng.random() < 0.93 else "caster7"
        start_variants: list[dict[str, Any]] = [
            {"kiln": kiln, "profile": "storm-short"},
            {"kiln": kiln, "profile": "storm-short", "alloy": ALLOY, "piece_class": PIECE_CLASS,
             "flask_id": flask_id(chain)},
            {"kiln": kiln, "profile": "no-such-profile"},
            {"kiln": kiln, "profile": "storm-short", "alloy": ALLOY},
            {"kiln": kiln, "profile": "../etc/passwd"},
            {"kiln": kiln, "profile": "storm-short", "sudo": True},
        ]  # fmt: skip
        cast_variants: list[dict[str, Any]] = [
            {"caster": caster, "alloy": ALLOY, "piece_class": PIECE_CLASS, "kiln": "kiln1",
             "flask_id": flask_id(chain), "melt_id": melt_id(chain)},
            {"caster": caster, "alloy": ALLOY, "piece_class": PIECE_CLASS, "kiln": "kiln1"},
            {"caster": caster, "alloy": "unobtainium", "piece_class": "medium", "kiln": "kiln1"},
            {"caster": caster, "alloy": ALLOY, "piece_class": "huge", "kiln": kiln},
        ]  # fmt: skip
        self.lots += 1
        lot = {
            "lot_id": f"L-STORM-{self.lots:05d}-{rng.randrange(10**6)}",
            "received_at": "2026-11-24T09:00:00+00:00", "received_by": "storm",
            "coc_class": "recycled", "supplier": {"name": "Storm Refining"}, "metal": "gold",
            "fineness_ppt": 750, "mass_mg": 1000,
        }  # fmt: skip
        table: list[tuple[float, str, dict[str, Any]]] = [
            (3, "status", {}),
            (0.5, "status", {"oven": 1}),
            (1, "alarms", {}),
            (0.5, "start_options", {}),
            (0.5, "ledger_status", {}),
            (3, "start", rng.choice(start_variants)),
            (4, "hold", {"kiln": kiln}),
            (4, "resume", {"kiln": kiln}),
            (0.4, "abort", {"kiln": kiln, "reason": rng.choice(["storm", "x" * 300])}),
            (1, "take_flask", {"kiln": kiln}),
            (0.4, "hold", {"kiln": 5}),
            (3, "cast_start", rng.choice(cast_variants)),
            (3, "cast_confirm", {"caster": caster, "step": "flask_placed"}),
            (1, "cast_confirm", {"caster": caster, "step": "balance_confirmed"}),
            (0.5, "cast_confirm", {"caster": caster, "step": "dance"}),
            (0.4, "cast_abort", {"caster": caster, "reason": "storm"}),
            (1, "cast_reset_drive", {"caster": caster}),
            (1, "alarm_ack", {"id": rng.randrange(0, 40)}),
            (0.7, "ledger_record", {"kind": "lot-receipt", "record": lot}),
            (0.3, "ledger_record", {"kind": "lot-receipt", "record": {"lot_id": "L-?"}}),
            (0.3, "ledger_export", {"cast_id": f"cast-{rng.randrange(1, 6)}"}),
            (0.3, "frobnicate", {"kiln": kiln}),
        ]
        weights = [w for w, _, _ in table]
        _, name, args = rng.choices(table, weights)[0]
        return name, args

    def garbage(self) -> bytes:
        """Bytes that are not a command: the parsers must refuse them, with a reason."""
        return self.rng.choice(
            [b"not json", b"[" * 1000 + b"]" * 1000, b'{"a":' * 500 + b"1" + b"}" * 500,
             b"\xff\xfe", b"{}", b"[]", b'"just a string"', b"1e999999"]
        )  # fmt: skip


@dataclass
class Faults:
    """Device faults through the simulators' backdoors, each undone after a while."""

    lab: StormLab
    rng: random.Random
    injected: Counter[str] = field(default_factory=Counter)

    def choices(self) -> list[tuple[str, Callable[[bool], None]]]:
        kiln, caster = self.lab.kiln.backdoor, self.lab.caster
        gauge = caster.gauge
        assert gauge is not None
        return [
            ("kiln comms loss", kiln.comms_loss),
            ("kiln silent", kiln.silent),
            ("kiln open thermocouple", kiln.open_thermocouple),
            ("crucible comms loss", caster.crucible.backdoor.comms_loss),
            ("io module comms loss", caster.io.backdoor.comms_loss),
            ("crucible thermocouple silent", caster.tc.backdoor.silent),
            ("gauge sensor error", lambda on: gauge.backdoor.sensor_error(on)),
            ("vacuum leak", lambda on: caster.leak(50.0 if on else 0.0)),
        ]

    async def run(self, until: float) -> None:
        """Inject one fault at a time until ``until`` (monotonic); each lasts 0.5-4 s."""
        while time.monotonic() < until:
            await asyncio.sleep(self.rng.uniform(1.0, 4.0))
            name, switch = self.rng.choice(self.choices())
            self.injected[name] += 1
            switch(True)
            try:
                await asyncio.sleep(self.rng.uniform(0.5, 4.0))
            finally:
                switch(False)

    async def hands(self, until: float) -> None:
        """The technician's hands: the flask goes in and comes out of the chamber now and then."""
        while time.monotonic() < until:
            await asyncio.sleep(self.rng.uniform(0.5, 3.0))
            self.lab.caster.io.flask_present = self.rng.random() < 0.7

    def clear(self) -> None:
        for _, switch in self.choices():
            switch(False)
