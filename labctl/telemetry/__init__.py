"""Telemetry: points from machine snapshots, the durable spool, InfluxDB writers, MQTT."""
