"""The fault matrix: each row of ``fault_matrix_support.MATRIX`` against the real daemon.

One daemon per row and machine; each cell is a fresh burnout run or cast on it, driven to its
phase, then the fault. Every cell checks (1) the devices' safe state read from the simulator,
(2) the honest outcome ``faulted: <reason naming the fault>``, (3) the alarm, (4) the signed
ledger record of the trip, (5) that every point offered to the spool so far is in InfluxDB.
"""

from __future__ import annotations

import pytest

from hil_tests.support import fault_matrix_checks as checks
from hil_tests.support import fault_matrix_labs as labs
from hil_tests.support.fault_matrix import MATRIX, Cells

pytestmark = [pytest.mark.hil, pytest.mark.slow, pytest.mark.timeout(240)]

BURNOUT_ROWS = [f for f in MATRIX if f.cells("burnout")]
CAST_ROWS = [f for f in MATRIX if f.cells("cast")]


@pytest.mark.parametrize("fault", BURNOUT_ROWS, ids=[f.name for f in BURNOUT_ROWS])
async def test_burnout_row(make_rig, tmp_path, fault):
    part = fault.burnout
    assert isinstance(part, Cells)
    async with labs.kiln_lab(make_rig, tmp_path, part.transport, part.disk) as lab:
        for phase in fault.cells("burnout"):
            await checks.burnout_cell(lab, part, f"{fault.name} in {phase}", phase)


@pytest.mark.parametrize("fault", CAST_ROWS, ids=[f.name for f in CAST_ROWS])
async def test_cast_row(tmp_path, fault):
    part = fault.cast
    assert isinstance(part, Cells)
    async with labs.caster_lab(tmp_path, part.kind, part.disk) as lab:
        for phase in fault.cells("cast"):
            await checks.cast_cell(lab, part, f"{fault.name} in {phase}", phase)
