"""``edge-gateway sniff`` against a real mosquitto with a real publisher (paho + our edge-node core)."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import IO, Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from sparkplug import (
    DataType,
    DeviceOnline,
    EdgeNodeConfig,
    Metric,
    MetricsChanged,
    MetricSpec,
    Payload,
    Sample,
    SetWill,
    encode_payload,
    encode_state,
)
from tests.sparkplug.edge_harness import Harness, of_type, published
from tests.support.mosquitto import MosquittoProcess

# mosquitto started as root drops to the "mosquitto" user, which cannot read files under pytest's
# private tmp_path; keep the current user so it can read the certificates and the password file.
KEEP_USER = ["user root"] if os.geteuid() == 0 else []


class Lines:
    """Lines of a child's stream, read by a thread so the test can wait with a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self._queue: queue.Queue[str] = queue.Queue()
        self._stream = stream
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        """After the child exited: the reader reaches EOF, then the pipe is closed."""
        self._thread.join(timeout=10)
        self._stream.close()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))

    def next(self, timeout: float = 10.0) -> str:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output line within {timeout} s") from None


@contextlib.contextmanager
def sniffer_process(
    broker: MosquittoProcess, *extra: str
) -> Iterator[tuple[subprocess.Popen[str], Lines, Lines]]:
    command = [
        sys.executable,
        "-m",
        "gateway.cli",
        "sniff",
        "--host",
        broker.host,
        "--port",
        str(broker.port),
        *extra,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stderr is not None
    stdout, stderr = Lines(process.stdout), Lines(process.stderr)
    try:
        yield process, stdout, stderr
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        stdout.close()
        stderr.close()


@pytest.fixture
def publisher(mosquitto: MosquittoProcess) -> Iterator[mqtt.Client]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sniff-test-publisher")
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    yield client
    client.disconnect()
    client.loop_stop()


def publish_all(client: mqtt.Client, messages: list[tuple[str, bytes]]) -> None:
    for topic, payload in messages:
        client.publish(topic, payload, qos=1).wait_for_publish(timeout=10)


def edge_node_stream() -> tuple[list[tuple[str, bytes]], SetWill]:
    harness = Harness(
        EdgeNodeConfig("Plant", "Gateway 1", node_metrics=(MetricSpec("Temp", DataType.Double),))
    )
    harness.feed(DeviceOnline("PLC", (MetricSpec("Speed", DataType.Int16),)))
    harness.connect()
    harness.feed(MetricsChanged(None, (Sample("Temp", 20.5, 1),)))
    harness.feed(MetricsChanged("PLC", (Sample("Speed", -3, 2),)))
    will = of_type(harness.log, SetWill)[0]
    return [(p.topic, p.payload) for p in published(harness.log)], will


@pytest.mark.timeout(60)
def test_sniff_json_shows_traffic_and_flags_violations(
    mosquitto: MosquittoProcess, publisher: mqtt.Client
) -> None:
    with sniffer_process(mosquitto, "--json", "--count", "8") as (process, stdout, stderr):
        assert "subscribed to spBv1.0/#, STATE/#" in stderr.next()
        stream, will = edge_node_stream()
        wrong_death = Payload(
            timestamp=1, metrics=(Metric(name="bdSeq", datatype=DataType.Int64, value=will.bd_seq + 1),)
        )
        unknown_alias = Payload(
            timestamp=1, seq=9, metrics=(Metric(alias=4242, datatype=DataType.Int32, value=1),)
        )
        publish_all(
            publisher,
            [
                ("spBv1.0/STATE/scada", encode_state(True, 1_700_000_000_000)),
                *stream,  # NBIRTH, DBIRTH, NDATA, DDATA: clean
                ("spBv1.0/Plant/NDATA/Gateway 1", encode_payload(unknown_alias)),  # seq gap + unknown alias
                ("spBv1.0/Plant/DDATA/Gateway 1/Other", encode_payload(Payload(timestamp=1, seq=10))),
                (will.topic, encode_payload(wrong_death)),
            ],
        )
        lines = [json.loads(stdout.next()) for _ in range(8)]
        assert process.wait(timeout=10) == 0
    by_type: list[tuple[str, list[str]]] = [(m["type"], [v["rule"] for v in m["violations"]]) for m in lines]
    assert by_type == [
        ("STATE", []),
        ("NBIRTH", []),
        ("DBIRTH", []),
        ("NDATA", []),
        ("DDATA", []),
        ("NDATA", ["seq-gap", "unknown-alias"]),
        ("DDATA", ["data-before-birth"]),
        ("NDEATH", ["bdseq-mismatch"]),
    ]
    ddata: dict[str, Any] = lines[4]
    assert ddata["device_id"] == "PLC"
    assert ddata["metrics"][0]["name"] == "Speed" and ddata["metrics"][0]["value"] == -3
    assert lines[0]["state"] == {"online": True, "timestamp": 1_700_000_000_000}


@pytest.mark.timeout(60)
def test_sniff_text_with_group_filter(mosquitto: MosquittoProcess, publisher: mqtt.Client) -> None:
    with sniffer_process(mosquitto, "--group", "Plant", "--count", "1") as (process, stdout, stderr):
        assert "spBv1.0/Plant/#" in stderr.next()
        stream, _ = edge_node_stream()
        publish_all(publisher, [("spBv1.0/Elsewhere/NBIRTH/X", stream[0][1]), stream[0]])
        first = stdout.next()
        block = [first]
        while True:
            line = stdout.next()
            if not line:
                break
            block.append(line)
        assert process.wait(timeout=10) == 0
    assert "NBIRTH" in block[0] and "spBv1.0/Plant/NBIRTH/Gateway 1" in block[0]
    assert any("bdSeq" in line and "(Int64)" in line for line in block)


def test_sniff_connection_refused_is_a_clear_error() -> None:
    from tests.support.ports import reserve_port

    port = reserve_port("127.0.0.1")  # nothing listens there
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "sniff", "--host", "127.0.0.1", "--port", str(port)],
        capture_output=True,
        check=False,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert f"cannot connect to the broker at 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_sniff_rejects_bad_group_and_key_without_cert() -> None:
    for extra, message in ((["--group", "a/b"], "contains '/'"), (["--key", "k.pem"], "--key needs --cert")):
        result = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "sniff", "--host", "127.0.0.1", "--port", "1", *extra],
            capture_output=True,
            check=False,
            text=True,
            timeout=30,
        )
        assert result.returncode == 1 and message in result.stderr


@pytest.mark.timeout(60)
def test_sniff_over_tls_with_credentials(mosquitto_factory: Any, tmp_path: Any) -> None:
    """--cafile/--username/--password against a mosquitto TLS listener that requires a password."""
    import trustme

    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_path = tmp_path / "ca.pem"
    cert_path = tmp_path / "server.pem"
    key_path = tmp_path / "server.key"
    ca.cert_pem.write_to_path(str(ca_path))
    server_cert.cert_chain_pems[0].write_to_path(str(cert_path))
    server_cert.private_key_pem.write_to_path(str(key_path))
    password_file = tmp_path / "passwords"
    password_file.write_text("")
    subprocess.run(
        ["mosquitto_passwd", "-b", str(password_file), "sniffer", "s3cret"], check=True, timeout=30
    )
    subprocess.run(["mosquitto_passwd", "-b", str(password_file), "publisher", "pub"], check=True, timeout=30)
    broker: MosquittoProcess = mosquitto_factory(
        [
            *KEEP_USER,
            f"cafile {ca_path}",
            f"certfile {cert_path}",
            f"keyfile {key_path}",
            "allow_anonymous false",
            f"password_file {password_file}",
        ]
    )
    stream, _ = edge_node_stream()
    extra = [
        "--cafile",
        str(ca_path),
        "--username",
        "sniffer",
        "--password",
        "s3cret",
        "--json",
        "--count",
        "1",
    ]
    with sniffer_process(broker, *extra) as (process, stdout, stderr):
        assert "subscribed" in stderr.next()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sniff-tls-publisher")
        client.tls_set(ca_certs=str(ca_path))
        client.username_pw_set("publisher", "pub")
        client.connect(broker.host, broker.port)
        client.loop_start()
        try:
            publish_all(client, [stream[0]])
            line = json.loads(stdout.next())
        finally:
            client.disconnect()
            client.loop_stop()
        assert process.wait(timeout=10) == 0
    assert line["type"] == "NBIRTH" and line["violations"] == []


@pytest.mark.timeout(60)
def test_sniff_wrong_password_is_a_clear_error(mosquitto_factory: Any, tmp_path: Any) -> None:
    password_file = tmp_path / "passwords"
    password_file.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(password_file), "sniffer", "right"], check=True, timeout=30)
    broker: MosquittoProcess = mosquitto_factory(
        [*KEEP_USER, "allow_anonymous false", f"password_file {password_file}"]
    )
    sniff = [sys.executable, "-m", "gateway.cli", "sniff", "--host", broker.host, "--port", str(broker.port)]
    result = subprocess.run(
        [*sniff, "--username", "sniffer", "--password", "wrong"],
        capture_output=True,
        check=False,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "refused the connection" in result.stderr and "Traceback" not in result.stderr
