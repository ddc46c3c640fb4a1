"""Profile files (TOML) validated into typed schedules."""
