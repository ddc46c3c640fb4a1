"""Every °C text labctl writes, classified, each with a °C example and what a °F lab reads.

Read by ``tests/labctl/test_units.py``: a text labctl writes that is in neither table fails
``test_every_celsius_text_in_labctl_is_classified`` until it is added here. Data only.
"""

from __future__ import annotations

#: Texts with a temperature difference in them: template -> (°C example, °F example).
WITH_DIFFERENCES: dict[str, tuple[str, str]] = {
    # labctl/kiln/interlocks.py
    "runaway: PV rose {} over the last {} with output at {} % (limit {}); check for a stuck "
    "contactor or relay": (
        "runaway: PV rose 16 °C over the last 5 min with output at 0 % (limit 15 °C); "
        "check for a stuck contactor or relay",
        "runaway: PV rose 29 °F over the last 5 min with output at 0 % (limit 27 °F); "
        "check for a stuck contactor or relay",
    ),
    "heating stall: {}/h over the last {} with output at {} % (minimum {}/h)": (
        "heating stall: 12.5 °C/h over the last 30 min with output at 100 % (minimum 60 °C/h)",
        "heating stall: 22.5 °F/h over the last 30 min with output at 100 % (minimum 108 °F/h)",
    ),
    # labctl/kiln/resume.py
    "kiln cooled to {}, {} below the program setpoint {} (limit {})": (
        "kiln cooled to 400 °C, 150 °C below the program setpoint 550 °C (limit 100 °C)",
        "kiln cooled to 752 °F, 270 °F below the program setpoint 1022 °F (limit 180 °F)",
    ),
    # labctl/kiln/program/engine.py
    "the kiln is at {} °C, {} °C above the loading temperature of {} ({} °C, the target of its "
    "first segment; band {} °C): a freshly invested flask must start with its dewax": (
        "the kiln is at 596 °C, 447 °C above the loading temperature of gypsum-wax-small "
        "(149 °C, the target of its first segment; band 15 °C): a freshly invested flask "
        "must start with its dewax",
        "the kiln is at 1105 °F, 805 °F above the loading temperature of gypsum-wax-small "
        "(300 °F, the target of its first segment; band 27 °F): a freshly invested flask "
        "must start with its dewax",
    ),
    "kiln cooled to {} °C (loading temperature {} °C): segment {} started": (
        "kiln cooled to 160 °C (loading temperature 149 °C): segment 1/8 ramp to 149 °C at "
        "150 °C/h started",
        "kiln cooled to 320 °F (loading temperature 300 °F): segment 1/8 ramp to 300 °F at "
        "270 °F/h started",
    ),
    "holdback exceeded {} min in {}: PV {} °C stayed more than {} °C from the program "
    "setpoint {} °C": (
        "holdback exceeded 30 min in 3/8 ramp to 371 °C at 150 °C/h: PV 300 °C stayed more "
        "than 15 °C from the program setpoint 340 °C",
        "holdback exceeded 30 min in 3/8 ramp to 700 °F at 270 °F/h: PV 572 °F stayed more "
        "than 27 °F from the program setpoint 644 °F",
    ),
    # labctl/profiles/segments.py (rates are differences per hour)
    "ramp to {} °C at {} °C/h": ("ramp to 149 °C at 150 °C/h", "ramp to 300 °F at 270 °F/h"),
    "cool to {} °C at {} °C/h": ("cool to 566 °C at 200 °C/h", "cool to 1051 °F at 360 °F/h"),
    "{}: a ramp must go up from {} °C (use cool to go down)": (
        "segment 3 (ramp to 300 °C at 100 °C/h): a ramp must go up from 371 °C (use cool to "
        "go down)",
        "segment 3 (ramp to 572 °F at 180 °F/h): a ramp must go up from 700 °F (use cool to "
        "go down)",
    ),
    "{}: {} °C above the {} °C before it with no ramp (more than the {} °C band): the kiln "
    "would heat at full power; add a ramp with a rate": (
        "segment 4 (final hold at 730 °C): 164 °C above the 566 °C before it with no ramp "
        "(more than the 15 °C band): the kiln would heat at full power; add a ramp with a rate",
        "segment 4 (final hold at 1346 °F): 295 °F above the 1051 °F before it with no ramp "
        "(more than the 27 °F band): the kiln would heat at full power; add a ramp with a rate",
    ),
    # labctl/cast/commands.py
    "the flask in {} is at {} °C; {} {} pieces need {} ± {} °C": (
        "the flask in kiln1 is at 480 °C; gold-18k-yellow medium pieces need 566 ± 15 °C",
        "the flask in kiln1 is at 896 °F; gold-18k-yellow medium pieces need 1051 ± 27 °F",
    ),
}

#: Texts whose every number of degrees is a temperature: template -> (°C example, °F example).
ABSOLUTE_ONLY: dict[str, tuple[str, str]] = {
    # labctl commission: what each check found on the unit
    "remote SP (26) = {} °C and manual OP (3) = 0 % read back": (
        "remote SP (26) = 0 °C and manual OP (3) = 0 % read back",
        "remote SP (26) = 32 °F and manual OP (3) = 0 % read back",
    ),
    "remote SP {} °C {} (working SP {} °C); after {} s without a write: StAt b14 "
    "{} working SP {} °C (fallback {} °C)": (
        "remote SP 25 °C taken (working SP 25 °C); after 60 s without a write: "
        "StAt b14 set working SP 0 °C (fallback 0 °C)",
        "remote SP 77 °F taken (working SP 77 °F); after 60 s without a write: "
        "StAt b14 set working SP 32 °F (fallback 32 °F)",
    ),
    "the unit's range is {} °C to {} °C (11/12); the machine needs the fallback "
    "SP {} °C and its maximum {} °C inside it": (
        "the unit's range is 0 °C to 1200 °C (11/12); the machine needs the "
        "fallback SP 0 °C and its maximum 1000 °C inside it",
        "the unit's range is 32 °F to 2192 °F (11/12); the machine needs the "
        "fallback SP 32 °F and its maximum 1832 °F inside it",
    ),
    "writing enabled, STOP stored (status bit 24 read back), RAM mode (bit 20), "
    "SP {} °C read back": (
        "writing enabled, STOP stored (status bit 24 read back), RAM mode (bit "
        "20), SP 0 °C read back",
        "writing enabled, STOP stored (status bit 24 read back), RAM mode (bit "
        "20), SP 32 °F read back",
    ),
    "SP (0x2103) = {} °C in RAM mode read back; operation commands by status": (
        "SP (0x2103) = 0 °C in RAM mode read back; operation commands by status",
        "SP (0x2103) = 32 °F in RAM mode read back; operation commands by status",
    ),
    "type {} reads {} °C to {} °C; the machine goes to {} °C": (
        "type K reads -270 °C to 1372 °C; the machine goes to 1300 °C",
        "type K reads -454 °F to 2502 °F; the machine goes to 2372 °F",
    ),
    # the formatters: a number with its unit, which the sentence around it classifies
    "{} °C": ("790.5 °C", "1454.9 °F"),  # interlocks.format_c, cli (PV, SP), cast/sequence
    "{}°C": (" 612.3°C", " 1134.1°F"),  # demo.py
    "°C": ("°C", "°C"),  # ledger/recorder.py: a plot's axis label, no number
    "crucible {:.0f} °C": ("crucible 1080 °C", "crucible 1976 °F"),  # cli.py before format()
    "over-temperature: PV {} above the limit {}": (
        "over-temperature: PV 812 °C above the limit 790 °C",
        "over-temperature: PV 1494 °F above the limit 1454 °F",
    ),
    "heat to {} °C at full power": (
        "heat to 730 °C at full power",
        "heat to 1346 °F at full power",
    ),
    "step to {} °C": ("step to 371 °C", "step to 700 °F"),
    "final hold at {} °C": ("final hold at 566 °C", "final hold at 1051 °F"),
    "{}: above the profile's max_temp_c {} °C": (
        "segment 2 (heat to 900 °C at full power): above the profile's max_temp_c 790 °C",
        "segment 2 (heat to 1652 °F at full power): above the profile's max_temp_c 1454 °F",
    ),
    "{}: a cool must go down from {} °C": (
        "segment 3 (step to 500 °C): a cool must go down from 371 °C",
        "segment 3 (step to 932 °F): a cool must go down from 700 °F",
    ),
    "{} goes to {} °C but {} is limited to {} °C": (
        "gypsum-high goes to 790 °C but kiln1 is limited to 760 °C",
        "gypsum-high goes to 1454 °F but kiln1 is limited to 1400 °F",
    ),
    "{} is at its final hold ({} °C), waiting for the flask: nothing to hold; take the flask or "
    "abort": (
        "kiln1 is at its final hold (566 °C), waiting for the flask: nothing to hold; take the "
        "flask or abort",
        "kiln1 is at its final hold (1051 °F), waiting for the flask: nothing to hold; take the "
        "flask or abort",
    ),
    "cooling to the loading temperature {} °C, heat off; then {}": (
        "cooling to the loading temperature 149 °C, heat off; then 1/8 ramp to 149 °C",
        "cooling to the loading temperature 300 °F, heat off; then 1/8 ramp to 300 °F",
    ),
    "{} cannot end at {} °C for {} {}: {}": (
        "gypsum-wax-small cannot end at 650 °C for gold-18k-yellow heavy: not allowed",
        "gypsum-wax-small cannot end at 1202 °F for gold-18k-yellow heavy: not allowed",
    ),
    "{} pours at {} °C but this caster's crucible is limited to {} °C": (
        "gold-18k-yellow pours at 1080 °C but this caster's crucible is limited to 1050 °C",
        "gold-18k-yellow pours at 1976 °F but this caster's crucible is limited to 1922 °F",
    ),
    "crucible over temperature: {} °C > {} °C": (
        "crucible over temperature: 1150 °C > 1120 °C",
        "crucible over temperature: 2102 °F > 2048 °F",
    ),
    "crucible thermocouples disagree: controller {} °C, independent {} °C": (
        "crucible thermocouples disagree: controller 1080 °C, independent 1010 °C",
        "crucible thermocouples disagree: controller 1976 °F, independent 1850 °F",
    ),
    "melt: the metal did not reach {} °C and settle within {} min (crucible at ": (
        "melt: the metal did not reach 1080 °C and settle within 10 min (crucible at 1020 °C)",
        "melt: the metal did not reach 1976 °F and settle within 10 min (crucible at 1868 °F)",
    ),
    "a flask temperature is above the gypsum limit {} °C": (
        "a flask temperature is above the gypsum limit 788.0 °C",
        "a flask temperature is above the gypsum limit 1450.4 °F",
    ),
    # signed records and their certificate (ledger/recorder.py): °C, as signed
    "{} at {} °C": ("F-0007 at 566 °C", "F-0007 at 1051 °F"),
    "run {}, peak {} °C, {} samples, {} gaps{}": (
        "run 1, peak 731 °C, 1200 samples, 0 gaps",
        "run 1, peak 1348 °F, 1200 samples, 0 gaps",
    ),
    # labctl demo (always °C: it runs with embedded defaults)
    "[{}s] technician takes the flask at {} °C": (
        "[  3.2s] technician takes the flask at 566 °C",
        "[  3.2s] technician takes the flask at 1051 °F",
    ),
    "[{}s] flask soaked at {} °C; clock slowed to {}x": (
        "[  3.2s] flask soaked at 566 °C; clock slowed to 5x",
        "[  3.2s] flask soaked at 1051 °F; clock slowed to 5x",
    ),
    "  peak kiln PV {} °C, peak flask core {} °C": (
        "  peak kiln PV 731.2 °C, peak flask core 702.5 °C",
        "  peak kiln PV 1348.2 °F, peak flask core 1296.5 °F",
    ),
    "crucible {}°C": ("crucible 1080.0°C", "crucible 1976.0°F"),
}
