"""Simulator machinery shared by device families: physics helpers, servers, fault injection."""
