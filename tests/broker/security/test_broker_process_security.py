"""Security of ``edge-gateway broker -c FILE`` as a child process: start-up refusals (T20), SIGHUP reload
(T22), exposure of listeners and files (T24)."""

from __future__ import annotations

import socket
import stat
import subprocess
from pathlib import Path

import psutil
import pytest

from tests.broker.persistence.broker_process import CLI, BrokerProcess
from tests.broker.persistence.conftest import gateway_yaml, store_dir
from tests.broker.persistence.sync_paho import SyncClient
from tests.broker.security.test_broker_security import ACL, USERS, write_security_files
from tests.support.waiting import wait_until


def write_config(directory: Path) -> Path:
    passwd, acl = write_security_files(directory, ACL)
    return gateway_yaml(
        directory,
        [
            f"password_file: {passwd}",
            f"acl_file: {acl}",
            "listeners:",
            "  - port: 0",  # no host: the default must be loopback
        ],
    )


@pytest.fixture
def secure_process(tmp_path: Path):  # type: ignore[no-untyped-def]
    process = BrokerProcess(write_config(tmp_path), tmp_path)
    yield process
    process.cleanup()


def login(port: int, user: str | None, client_id: str, password: str | None = None) -> SyncClient:
    client = SyncClient(client_id)
    if user is not None:
        client.client.username_pw_set(user, password if password is not None else USERS[user])
    client.connect(port)
    return client


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("nocolon\n", ":1: no ':' between user name and hash"),
        ("\nempty:\n", ":2: user 'empty': empty password hash"),
        ("odd:$plain$x$y$z\r\n", ":1: user 'odd': unknown hash scheme 'plain'"),
    ],
)
def test_bad_password_file_stops_start_up_with_file_and_line(
    tmp_path: Path, content: str, fragment: str
) -> None:
    config = write_config(tmp_path)
    (tmp_path / "passwd").write_text(content)
    result = subprocess.run(
        [*CLI, "broker", "-c", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert f"{tmp_path / 'passwd'}{fragment}" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.timeout(150)
def test_password_file_that_is_a_directory_stops_start_up(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    (tmp_path / "passwd").unlink()
    (tmp_path / "passwd").mkdir()
    result = subprocess.run(
        [*CLI, "broker", "-c", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,  # a deadline for a loaded machine (start-up imports take seconds there), not a speed
        check=False,
    )
    # The configuration check (gateway.config) sees it first and names the key; either way: no start.
    assert (
        result.returncode != 0
        and "broker.password_file" in result.stderr
        and "expected a file" in result.stderr
    )
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.timeout(90)
def test_sighup_reload_applies_valid_files_and_keeps_old_rules_on_invalid(
    secure_process: BrokerProcess,
) -> None:
    broker = secure_process.start()
    op = login(broker.port, "op", "op-1")
    assert [r.value for r in op.subscribe("plant/line/+", 1)] == [1]
    acl_path = broker.workdir / "acl.toml"

    acl_path.write_text("version = 1\n[users.op\n")  # invalid: the old rules must stay
    broker.signal(1)  # SIGHUP
    wait_until(
        lambda: "security reload failed" in broker.log, timeout=10, message="the failed reload in the log"
    )
    assert "not valid TOML" in broker.log
    assert [r.value for r in op.subscribe("plant/line/2", 1)] == [1]
    anonymous = SyncClient("anon")
    _flags, rc = anonymous.connect(broker.port)
    anonymous.disconnect()
    assert rc.value == 0x87, "anonymous access stays refused"

    acl_path.write_text(ACL.replace('{ allow = "read", topic = "plant/#" },', ""))  # valid: op loses read
    broker.signal(1)
    wait_until(lambda: "security reloaded (generation 2)" in broker.log, timeout=10, message="the reload")
    assert [r.value for r in op.subscribe("plant/line/3", 1)] == [0x87]
    op.disconnect()
    assert broker.stop() == 0


def test_default_listener_is_loopback_and_files_are_private(secure_process: BrokerProcess) -> None:
    broker = secure_process.start()
    client = login(broker.port, "admin", "adm")
    client.publish("plant/state", b"x", 1, retain=True)
    client.wait_acked([1])
    client.disconnect()
    listening = [c for c in psutil.Process(broker.process.pid).net_connections() if c.status == "LISTEN"]  # type: ignore[union-attr]
    assert listening and all(c.laddr.ip == "127.0.0.1" for c in listening), listening
    data = store_dir(broker)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for path in [broker.workdir / "passwd", *data.iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert broker.stop() == 0


@pytest.mark.timeout(90)
def test_reload_while_out_of_file_descriptors_keeps_the_old_rules(secure_process: BrokerProcess) -> None:
    """T22 (b): the fd limit is exhausted (prlimit + filler connections) when SIGHUP arrives."""
    broker = secure_process.start()
    op = login(broker.port, "op", "op-1")
    assert [r.value for r in op.subscribe("plant/line/+", 1)] == [1]
    acl_path = broker.workdir / "acl.toml"
    acl_path.write_text(ACL.replace('{ allow = "read", topic = "plant/#" },', ""))  # would revoke op's read
    process = psutil.Process(broker.process.pid)  # type: ignore[union-attr]
    soft, hard = process.rlimit(psutil.RLIMIT_NOFILE)
    limit = process.num_fds() + 4
    process.rlimit(psutil.RLIMIT_NOFILE, (limit, hard))  # only the soft limit: it can be raised again
    fillers: list[socket.socket] = []
    try:
        # Connect until the broker can no longer accept: its descriptors are used up.
        for _ in range(20):
            fillers.append(socket.create_connection(("127.0.0.1", broker.port), timeout=5))
        wait_until(lambda: process.num_fds() >= limit, timeout=10, message="the broker's fd table to fill up")
        broker.signal(1)  # SIGHUP
        wait_until(lambda: "security reload failed" in broker.log, timeout=10, message="the failed reload")
        assert "Too many open files" in broker.log
    finally:
        for filler in fillers:
            filler.close()
    # The old rules are still in force for the connected client.
    assert [r.value for r in op.subscribe("plant/line/9", 1)] == [1]
    op.disconnect()
    process.rlimit(psutil.RLIMIT_NOFILE, (soft, hard))
    assert broker.stop() == 0


@pytest.mark.timeout(60)
def test_debian_mosquitto_clients_authenticate(secure_process: BrokerProcess) -> None:
    broker = secure_process.start()
    port = str(broker.port)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), capture_output=True, text=True, timeout=20, check=False)

    published = run(
        "mosquitto_pub",
        "-p",
        port,
        "-u",
        "admin",
        "-P",
        USERS["admin"],
        "-V",
        "5",
        "-t",
        "plant/line/1",
        "-m",
        "from mosquitto_pub",
        "-r",
        "-q",
        "1",
    )
    assert published.returncode == 0, published.stderr
    received = run(
        "mosquitto_sub",
        "-p",
        port,
        "-u",
        "op",
        "-P",
        USERS["op"],
        "-V",
        "311",
        "-t",
        "plant/line/+",
        "-C",
        "1",
        "-W",
        "10",
    )
    assert received.returncode == 0 and received.stdout.strip() == "from mosquitto_pub", received.stderr
    refused = run(
        "mosquitto_sub", "-p", port, "-u", "op", "-P", "wrong", "-t", "plant/#", "-C", "1", "-W", "10"
    )
    assert refused.returncode != 0 and "bad user name or password" in refused.stderr.lower()
    anonymous = run("mosquitto_pub", "-p", port, "-V", "5", "-t", "x", "-m", "y")
    # mosquitto_pub exits with the 5.0 CONNACK reason code: 0x87 Not authorized
    assert anonymous.returncode == 0x87 and "not authorized" in anonymous.stderr.lower()
    assert broker.stop() == 0
