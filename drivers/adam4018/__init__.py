"""Advantech ADAM-4018 thermocouple module: DCON ASCII over RS-485."""
