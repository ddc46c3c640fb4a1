"""Simulator machinery shared by device families: plant models, servers, fault injection."""
