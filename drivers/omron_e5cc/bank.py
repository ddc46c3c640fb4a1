"""The simulated E5CC's register memory: the function codes H175 gives the unit.

Omron H175 *E5□C Digital Temperature Controllers Communications Manual* §4-2 p.4-6 lists the
Modbus functions 03 (read variable area), 06 (write one variable / operation command), 08
(echoback test) and 16 (write variable area); any other is answered with end code 01
(§4-1-3 p.4-5), on RTU as on TCP. The echoback test (§4-4-4 p.4-15) is function 08 with the
fixed data 0000 (diagnostic sub-function 0): the test data comes back unchanged, which the
Modbus server answers for a bank that lists function 08.
"""

from __future__ import annotations

from drivers._modbus.bank import RegisterBank

# H175 §4-2 p.4-6: 03 read, 06 write one, 08 echoback test, 16 write several.
FUNCTION_CODES = frozenset({3, 6, 8, 16})


class E5ccBank(RegisterBank):
    """The 2-byte-mode variable area, served with the E5CC's function codes."""

    @property
    def function_codes(self) -> frozenset[int]:
        return FUNCTION_CODES
