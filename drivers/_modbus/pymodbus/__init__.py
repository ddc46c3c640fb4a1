"""The pymodbus adapter: the only package that imports pymodbus (client wire and sim server)."""
