"""Device protocol code: bus, register maps, drivers and simulators. Never imports labctl."""
