"""Store-and-forward end to end: values sampled while the upstream is down are stored in SQLite, survive
a SIGKILL of the gateway, and are published as historical DATA after the next births."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway.control import contract as c
from tests.e2e.conftest import gateway_config
from tests.e2e.support import GatewayProcess, ModbusSimulatorProcess, SparkplugHost
from tests.e2e.test_control_plane import ControlClient
from tests.support.mosquitto import MosquittoProcess
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_outage_history_survives_sigkill_and_is_replayed_as_historical(
    tmp_path: Path, modbus_sim: ModbusSimulatorProcess, mosquitto: MosquittoProcess
) -> None:
    config = gateway_config(tmp_path, modbus_port=modbus_sim.port, upstream_port=mosquitto.port)
    host = SparkplugHost(mosquitto.port)
    gateway = GatewayProcess(tmp_path, config)
    try:
        gateway.wait_running()
        wait_until(lambda: host.of("DDATA", "skid"), timeout=20, message="live DDATA")
        host.close()
        outage_started = time.time() * 1000
        mosquitto.kill()
        control = ControlClient(gateway.broker_port)
        try:
            wait_until(
                lambda: (s := control.latest(c.StoreStatus)) and s.depth >= 3,
                timeout=30,
                message="samples stored during the outage",
            )
        finally:
            control.close()
        gateway.kill()  # SIGKILL mid-outage: only what the store committed counts
    finally:
        gateway.kill()

    mosquitto.restart()
    host = SparkplugHost(mosquitto.port)
    gateway = GatewayProcess(tmp_path, config)
    try:
        gateway.wait_running()

        def historical() -> list[int]:
            stamps = []
            for message in host.of("DDATA", "skid"):
                assert message.payload is not None
                stamps += [m.timestamp or 0 for m in message.payload.metrics if m.is_historical]
            return stamps

        stamps = wait_until(historical, timeout=30, message="historical DDATA after the births")
        assert any(stamp >= outage_started for stamp in stamps), "values sampled during the outage"
        first_historical = next(
            i
            for i, m in enumerate(host.messages)
            if m.payload and any(x.is_historical for x in m.payload.metrics)
        )
        kinds_before = {m.kind for m in host.messages[:first_historical]}
        assert "NBIRTH" in kinds_before and "DBIRTH" in kinds_before, "births come before history"
        assert gateway.terminate() == 0
    finally:
        host.close()
        gateway.kill()
