"""The MQTT attachment against a real mosquitto: refusal in plain words, data, commands, 0x87, reconnect.

The daemon's `edge-gateway run` is not wired yet, so the control plane is spoken by ContractDaemon
(tests/tui/support/contract_daemon.py): real broker, real MQTT 5 request/response, every payload built
with the contract module.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from gateway.control import contract as c
from tests.conftest import MosquittoFactory
from tests.support.mosquitto import MosquittoProcess
from tests.support.ports import reserve_port
from tests.support.waiting import async_wait_until
from tests.tui.support.contract_daemon import ContractDaemon
from tui.connection.attachment import Attachment
from tui.connection.events import LinkDown
from tui.errors import CommandTimeoutError, NotAuthorizedError, NotConnectedError, ReadOnlyError
from tui.settings import TuiSettings


class Pump:
    """Drains the attachment on the test's event loop whenever the connection thread wakes it."""

    def __init__(self, settings: TuiSettings) -> None:
        self.loop = asyncio.get_running_loop()
        self.downs: list[LinkDown] = []
        self.attachment = Attachment(settings, self._wake)

    def _wake(self) -> None:
        self.loop.call_soon_threadsafe(self.attachment.drain)

    def __enter__(self) -> Attachment:
        self.attachment.start()
        return self.attachment

    def __exit__(self, *exc: object) -> None:
        self.attachment.stop()


async def test_refused_connection_is_explained_with_address_and_next_step() -> None:
    port = reserve_port()  # nothing listens there
    settings = TuiSettings(port=port, client_id="tui-refused")
    with Pump(settings) as att:
        await async_wait_until(lambda: att.model.link.state == "down", message="link down")
        link = att.model.link
        assert link.reason == f"connection refused on 127.0.0.1:{port}"
        assert "is the gateway running?" in link.next_step and "systemctl" in link.next_step
        with pytest.raises(NotConnectedError, match="not connected"):
            await att.commands.call(c.Rebirth())


async def test_status_arrives_and_commands_round_trip(contract_daemon: ContractDaemon) -> None:
    settings = TuiSettings(host=contract_daemon.host, port=contract_daemon.port, client_id="tui-cmd")
    with Pump(settings) as att:
        await async_wait_until(lambda: len(att.model.devices) == 3 and att.model.uplink, message="status")
        assert att.model.link.state == "up"
        response = await att.commands.call(c.WriteTag("skid-1", "setpoint", 55.0), timeout=5)
        assert isinstance(response, c.CommandOk) and response.data.new_value == 55.0
        await async_wait_until(
            lambda: att.model.tags["skid-1"]["setpoint"].value == 55.0, message="new value"
        )
        refused = await att.commands.call(c.WriteTag("skid-1", "temperature", 1.0), timeout=5)
        assert isinstance(refused, c.CommandFailed) and refused.error.code is c.ErrorCode.NOT_WRITABLE
        record = att.commands.history[-1]
        assert record.outcome.startswith("not_writable") and record.latency_ms is not None


async def test_read_only_flag_refuses_plant_commands_but_allows_reads(
    contract_daemon: ContractDaemon,
) -> None:
    settings = TuiSettings(
        host=contract_daemon.host, port=contract_daemon.port, client_id="tui-ro", read_only=True
    )
    with Pump(settings) as att:
        await async_wait_until(lambda: att.model.link.state == "up", message="link up")
        with pytest.raises(ReadOnlyError, match="--read-only"):
            await att.commands.call(c.FailoverNow())
        ok = await att.commands.call(c.GetConfig(), timeout=5)
        assert isinstance(ok, c.CommandOk)
    assert [name for name, _ in contract_daemon.requests] == ["get_config"]  # the failover was never sent


def secured_broker(factory: MosquittoFactory, tmp_path: Path) -> MosquittoProcess:
    passwd = tmp_path / "passwd"
    for user in ("daemon", "operator"):
        flags = ["-c"] if user == "daemon" else []
        subprocess.run(["mosquitto_passwd", "-b", *flags, str(passwd), user, "pw"], check=True)
    acl = tmp_path / "acl"
    acl.write_text(
        "user daemon\ntopic readwrite $GW/v1/#\n\n"
        "user operator\ntopic read $GW/v1/#\n"  # a viewer: may read, may not publish commands
    )
    # `user root`: mosquitto started as root drops to user "mosquitto", which cannot read tmp_path (0700)
    return factory(["user root", "allow_anonymous false", f"password_file {passwd}", f"acl_file {acl}"])


async def test_puback_not_authorized_turns_the_ui_read_only(
    mosquitto_factory: MosquittoFactory, tmp_path: Path
) -> None:
    broker = secured_broker(mosquitto_factory, tmp_path)
    daemon = ContractDaemon(broker.host, broker.port)
    daemon.client.username_pw_set("daemon", "pw")
    daemon.start()
    try:
        settings = TuiSettings(
            host=broker.host, port=broker.port, username="operator", password="pw", client_id="tui-viewer"
        )
        with Pump(settings) as att:
            await async_wait_until(lambda: att.model.gateway is not None, message="status as a viewer")
            with pytest.raises(NotAuthorizedError, match="not authorized"):
                await att.commands.call(c.Rebirth(), timeout=5)
            assert att.commands.read_only
            assert "not authorized" in att.commands.read_only_reason
            with pytest.raises(ReadOnlyError):
                await att.commands.call(c.FailoverNow())
    finally:
        daemon.stop()
    assert daemon.requests == []


async def test_bad_password_is_explained(mosquitto_factory: MosquittoFactory, tmp_path: Path) -> None:
    broker = secured_broker(mosquitto_factory, tmp_path)
    settings = TuiSettings(
        host=broker.host, port=broker.port, username="operator", password="wrong", client_id="tui-badpw"
    )
    with Pump(settings) as att:
        await async_wait_until(lambda: att.model.link.state == "down", message="refused")
        assert "user name or password" in att.model.link.reason
        assert "--password-env" in att.model.link.next_step


async def test_reconnects_by_itself_and_keeps_last_data_marked_stale(
    contract_daemon: ContractDaemon, mosquitto: MosquittoProcess
) -> None:
    settings = TuiSettings(host=mosquitto.host, port=mosquitto.port, client_id="tui-reconnect", keepalive_s=2)
    with Pump(settings) as att:
        await async_wait_until(lambda: att.model.gateway is not None, message="status")
        mosquitto.kill()
        await async_wait_until(lambda: att.model.link.state == "down", message="link down")
        assert att.model.gateway is not None  # last data kept...
        assert att.model.is_stale(att.model.gateway.message.timestamp_ms, settings.clock())  # ...marked stale
        mosquitto.restart()
        await async_wait_until(lambda: att.model.link.state == "up", timeout=20, message="reconnected")


async def test_a_command_nobody_answers_times_out_in_words(mosquitto: MosquittoProcess) -> None:
    settings = TuiSettings(host=mosquitto.host, port=mosquitto.port, client_id="tui-timeout")
    with Pump(settings) as att:
        await async_wait_until(lambda: att.model.link.state == "up", message="link up")
        with pytest.raises(CommandTimeoutError, match="rebirth: no answer from the gateway within 0 s"):
            await att.commands.call(c.Rebirth(), timeout=0.3)
        assert att.commands.history[-1].outcome == "timed out"
        # a reply that arrives after the deadline is ignored, not mistaken for another request's
        late = c.encode_response(c.CommandOk(c.RebirthResult(1, ())))
        assert not att.commands.deliver(b"1", late)
