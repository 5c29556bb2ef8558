"""The fault proxy does what each toxic promises, against a real echo server on loopback."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.support.fault_proxy import FaultProxy, SynBlackhole
from tests.support.ports import bound_port


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield bound_port(server)
    stop.set()
    server.close()


@pytest.fixture
def proxy(echo_port: int) -> Iterator[FaultProxy]:
    proxy = FaultProxy("127.0.0.1", echo_port).start()
    yield proxy
    proxy.stop()


def connect(proxy: FaultProxy, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout)
    return sock


def recv_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            break
        data += chunk
    return data


def test_forwards_and_counts(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"hello")
        assert recv_exactly(sock, 5) == b"hello"
    assert proxy.connections == 1


def test_latency_delays_but_keeps_order(proxy: FaultProxy) -> None:
    proxy.latency(150)
    with connect(proxy) as sock:
        start = time.monotonic()
        for i in range(5):
            sock.sendall(bytes([i]))
        assert recv_exactly(sock, 5) == bytes(range(5))
        # Both directions are delayed, and delays overlap (they do not add up per chunk).
        assert 0.28 <= time.monotonic() - start < 1.5


def test_blackhole_keeps_the_socket_open_and_heal_resumes(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"up")
        assert recv_exactly(sock, 2) == b"up"  # the proxy's upstream leg is established
        proxy.blackhole()
        sock.sendall(b"lost")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        proxy.heal()
        sock.settimeout(5)
        sock.sendall(b"back")
        assert recv_exactly(sock, 4) == b"back"


def test_reset_sends_rst(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"x")
        assert recv_exactly(sock, 1) == b"x"
        proxy.reset()
        with pytest.raises(ConnectionResetError):
            for _ in range(100):
                sock.sendall(b"y")
                if not sock.recv(10):
                    break


def test_close_after_cuts_the_stream(proxy: FaultProxy) -> None:
    proxy.close_after(10)
    with connect(proxy) as sock:
        sock.sendall(b"0123456789abcdef")
        received = b""
        try:
            while chunk := sock.recv(100):
                received += chunk
        except ConnectionResetError:
            pass
        assert len(received) < 16


def test_slice_and_bandwidth_still_deliver_everything(proxy: FaultProxy) -> None:
    proxy.slice(7)
    proxy.bandwidth(200_000)
    payload = bytes(range(256)) * 40
    with connect(proxy) as sock:
        sock.sendall(payload)
        assert recv_exactly(sock, len(payload)) == payload


def test_refuse_new_resets_new_connections(proxy: FaultProxy) -> None:
    proxy.refuse_new()
    # The RST may arrive while connect() returns or at the first send/recv: either way a reset.
    with pytest.raises((ConnectionResetError, BrokenPipeError)), connect(proxy) as sock:
        sock.settimeout(5)
        sock.sendall(b"x")
        if not sock.recv(1):
            raise ConnectionResetError("closed")


def test_syn_blackhole_hangs_connect_until_the_client_timeout() -> None:
    hole = SynBlackhole()
    try:
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            socket.create_connection(("127.0.0.1", hole.port), timeout=0.5)
        assert time.monotonic() - start >= 0.45
    finally:
        hole.close()
