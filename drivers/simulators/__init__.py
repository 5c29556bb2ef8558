"""Simulated Modbus TCP and OPC UA servers for the demo, the tests and the benchmarks.

Both start in the caller's event loop, bind port 0 by default and report the bound port, and
describe their tags (``describe()``) and build a ready driver spec (``modbus_device()``,
``opcua_server()``). pymodbus and asyncua are imported only when a simulator starts.
"""

from drivers.simulators.modbus_sim import ModbusSimulator, SimPoint, default_points, mixed_points
from drivers.simulators.opcua_sim import OpcUaSimulator, SimVariable, bench_variables, default_variables

__all__ = [
    "ModbusSimulator",
    "OpcUaSimulator",
    "SimPoint",
    "SimVariable",
    "bench_variables",
    "default_points",
    "default_variables",
    "mixed_points",
]
