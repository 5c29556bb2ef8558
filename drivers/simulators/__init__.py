"""Simulated Modbus TCP and OPC UA servers for the demo, the tests and the benchmarks."""

from drivers.simulators.modbus_sim import ModbusSimulator, SimPoint, default_points, mixed_points

__all__ = ["ModbusSimulator", "SimPoint", "default_points", "mixed_points"]
