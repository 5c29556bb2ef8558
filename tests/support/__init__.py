"""Helpers shared by every test package: ports, waiting on conditions, real mosquitto processes."""
