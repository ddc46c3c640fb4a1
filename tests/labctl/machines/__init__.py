"""Machines (kilns, casters) under every command in every state: table and model tests."""
