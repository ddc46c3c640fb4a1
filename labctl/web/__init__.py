"""The technicians' touchscreen: an aiohttp server inside the daemon, static assets, sign-in."""
