"""Register table of the caster's Modbus coil / discrete-input module (driver, sim and tests).

No casting machine publishes a protocol, so the caster is integrated at the I/O level: a
generic Modbus DIO module whose channels are wired by the site convention below. Its module
name and comms watchdog follow Advantech's *ADAM-4000 Data Acquisition Modules User's Manual*
Ed. 10.7, Appendix G "I/O Modbus mapping table" (40211 module name, 40215 Comm Safety Enable,
40216 Comm Safety Flag), which marks all three read-only (attribute R, e.g. p.G-11): the comm
safety's timeout and safe value are module settings made over DCON (:mod:`drivers.iomodule.dcon`),
not Modbus registers, and labctl never writes 40215 or 40216.
"""

from __future__ import annotations

from drivers._modbus.codecs import UINT16
from drivers._modbus.registers import Poll, Register, RegisterMap, Table

WIRING = "site wiring convention (NOTES.md)"
ADAM = "ADAM-4000 User's Manual Ed. 10.7 App. G (I/O Modbus mapping table)"

# Coil order is the wiring order; CasterOutputs field names are the register names.
COILS = ("pump", "chamber_valve", "vent_valve", "argon_valve", "pour", "lid_release")
INPUTS = ("lid_closed", "flask_present", "estop_ok", "pump_running", "arm_stopped")

# Safe coil values (all off, vent open), matching CasterOutputs' defaults.
SAFE = {name: name == "vent_valve" for name in COILS}

MAP = RegisterMap(
    (
        *(
            Register(
                name=name,
                address=address,
                table=Table.COIL,
                writable=True,
                poll=Poll.FAST,
                ref=WIRING,
            )
            for address, name in enumerate(COILS)
        ),
        *(
            Register(name=name, address=address, table=Table.DISCRETE, poll=Poll.FAST, ref=WIRING)
            for address, name in enumerate(INPUTS)
        ),
        Register(name="module_id", address=210, codec=UINT16, ref=f"{ADAM}: 40211 module name"),
        Register(
            name="comm_safety_enable",  # 1 = enabled; read-only
            address=214,
            codec=UINT16,
            ref=f"{ADAM}: 40215 Comm Safety Enable, attribute R (p.G-11)",
        ),
        Register(
            name="comm_safety_flag",  # 1 = the safety value was applied; read-only
            address=215,
            codec=UINT16,
            ref=f"{ADAM}: 40216 Comm Safety Flag, attribute R (p.G-11)",
        ),
    )
)

IDENTITY = ("module_id",)  # re-read after every reconnect by the bus
