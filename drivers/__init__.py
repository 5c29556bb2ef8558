"""Southbound drivers (Modbus, OPC UA) and device simulators. Knows nothing of MQTT or Sparkplug."""
