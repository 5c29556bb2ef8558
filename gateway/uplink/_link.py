"""One MQTT connection to one upstream server (paho-mqtt 2.x), with our own dead-link watchdog.

Why paho's socket is driven from the event loop (no paho thread)
-----------------------------------------------------------------
paho offers two ways to run: its own network thread (``loop_start``) or an external loop
(``loop_read``/``loop_write``/``loop_misc``). We measured both (benchmarks/uplink.py): with the thread,
every acknowledgement crosses two threads (paho's, then ``call_soon_threadsafe`` to the loop) and the GIL,
which put milliseconds on every round trip and capped the paced drain. Driven from the loop:

- the socket is registered with ``add_reader``; readable -> ``loop_read`` (again while a TLS socket has
  decrypted bytes pending, which do not wake a selector); ``publish``/``subscribe`` write at once through
  paho (it calls ``loop_write`` itself when no socket callbacks are set), and whatever the kernel did not
  take is flushed by ``add_writer`` -> ``loop_write``; ``loop_misc`` runs from our watchdog tick;
- paho's callbacks then run on the loop thread, inside ``loop_read``; we defer our handlers with
  ``call_soon`` (FIFO), so the loop sees CONNACK, messages and acknowledgements **in wire order** and our
  code never re-enters paho from inside its own callbacks; **wire order = call order** for publishes;
- the only blocking part, ``connect()`` (DNS, TCP, TLS handshake), runs alone in a worker thread bounded
  by paho's ``connect_timeout``; the CONNACK wait is our own deadline on the loop.

One connection per ``PahoLink``, a new paho client per attempt, never a reconnect by paho itself.

Dead-link detection (within one keep-alive, below the 1.5x goal)
---------------------------------------------------------------
paho's own keep-alive only gives up when a PINGREQ has gone unanswered for a whole keep-alive after the
link was idle for one: up to 2x keep-alive, and a frozen (SIGSTOPped) broker keeps the TCP connection open,
so the kernel never tells us. Our watchdog, on the loop, sends a probe every ``probe_interval`` (default
keep-alive/2): an UNSUBSCRIBE of a filter we never subscribed to, which every broker must answer with an
UNSUBACK and which has no side effect [MQTT-3.10.4-5]. If the probe, or any PUBACK/SUBACK, is not answered
within ``ack_timeout`` (default keep-alive/2), the link is declared dead: detection <= probe_interval +
ack_timeout = one keep-alive. The socket is then shut down without DISCONNECT, so the broker (if it ever
wakes up) still publishes our Will.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from gateway.uplink._config import FailoverSettings, MqttVersion, ServerSettings
from gateway.uplink._exceptions import ConnectTimeoutError, LinkClosedError, LinkError
from gateway.uplink._link_types import AckCallback, ConnectionInfo, InboundMessage, WillMessage
from gateway.uplink._paho_compat import build_client, close_leaked_sockets, connack_outcome, connect_blocking

log = logging.getLogger(__name__)

_DISCONNECT_WITH_WILL = 0x04


class PahoLink:
    """One connection. Use: ``info = await link.connect()``; ``publish``/``subscribe``; ``await link.closed``.

    Args:
        server: where to connect.
        failover: timeouts (connect, ack, probe).
        will: the Will to register in CONNECT (Sparkplug: NDEATH with this connection's bdSeq).
        on_message: called on the loop for every inbound PUBLISH, in wire order.
    """

    def __init__(
        self,
        server: ServerSettings,
        failover: FailoverSettings,
        *,
        will: WillMessage | None = None,
        on_message: Callable[[InboundMessage], None] | None = None,
    ) -> None:
        self.server = server
        self._failover = failover
        self._will = will
        self._on_message = on_message
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None
        self._connack: asyncio.Future[ConnectionInfo] | None = None
        self._closed: asyncio.Future[str] | None = None
        self._abort_reason: str | None = None
        self._acks: dict[int, tuple[float, AckCallback | None]] = {}
        self._requests: dict[int, tuple[float, asyncio.Future[list[int]]]] = {}
        # A plain topic (some brokers refuse anything under "$"), never subscribed to; the client id is
        # cleaned of characters that would make it an invalid or wildcard filter.
        safe_id = "".join(c if c not in "+#/\0" else "_" for c in server.client_id)
        self._probe_topic = f"gateway-uplink-probe/{safe_id}"
        self._watchdog: asyncio.Task[None] | None = None
        self._info: ConnectionInfo | None = None
        self._sock: Any = None
        self._writer_registered = False
        self._reader_registered = False
        self._loop_thread = threading.get_ident()
        self.last_ack_latency: float | None = None

    # -- lifecycle -----------------------------------------------------------------------------------

    @property
    def info(self) -> ConnectionInfo | None:
        return self._info

    @property
    def is_open(self) -> bool:
        return self._closed is not None and not self._closed.done() and self._info is not None

    @property
    def closed(self) -> asyncio.Future[str]:
        """Resolves with the reason once the connection is gone (never raises)."""
        assert self._closed is not None, "connect() first"
        return self._closed

    async def connect(self) -> ConnectionInfo:
        """Connect and wait for a successful CONNACK.

        Raises:
            ConnectTimeoutError: no TCP/TLS connection or no CONNACK within ``connect_timeout``.
            ConnectRefusedError: the CONNACK carried a failure (``CredentialsRejectedError`` for auth).
            LinkError: any other socket or TLS error while connecting.
        """
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._connack = self._loop.create_future()
        self._closed = self._loop.create_future()
        client = self._client = self._make_client()
        timeout = self._failover.connect_timeout
        try:
            await asyncio.to_thread(self._blocking_connect, client)
        except TimeoutError as error:
            self._finish_closed("connect timeout")
            raise ConnectTimeoutError(
                self.server.name, "connect timeout", f"no TCP/TLS in {timeout} s"
            ) from error
        except ssl.SSLError as error:
            close_leaked_sockets(error)
            self._finish_closed("TLS error")
            raise LinkError(self.server.name, "TLS error", str(error)) from error
        except OSError as error:
            close_leaked_sockets(error)
            self._finish_closed("connection failed")
            raise LinkError(self.server.name, "connection failed", str(error)) from error
        self._register(client)
        try:
            info = await asyncio.wait_for(asyncio.shield(self._connack), timeout)
        except TimeoutError:
            await self._teardown("no CONNACK")
            raise ConnectTimeoutError(self.server.name, "no CONNACK", f"within {timeout} s") from None
        except LinkError:
            await self._teardown("refused")
            raise
        self._info = info
        self._watchdog = asyncio.create_task(self._watch(info), name=f"uplink-watchdog:{self.server.name}")
        log.info(
            "connected to %s (client id %s, keep-alive %d s, receive maximum %d)",
            self.server.name,
            self.server.client_id,
            info.keepalive,
            info.receive_maximum,
        )
        return info

    def _make_client(self) -> mqtt.Client:
        client = build_client(self.server, self._failover, self._will)
        client.on_connect = self._paho_on_connect
        client.on_disconnect = self._paho_on_disconnect
        client.on_publish = self._paho_on_publish
        client.on_subscribe = self._paho_on_subscribe
        client.on_unsubscribe = self._paho_on_unsubscribe
        client.on_message = self._paho_on_message
        return client

    def _blocking_connect(self, client: mqtt.Client) -> None:
        connect_blocking(client, self.server)

    # -- paho thread -> loop ---------------------------------------------------------------------------

    def _to_loop(self, function: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            loop.call_soon(function, *args)  # after paho's loop_read returns: no re-entrance into paho
            return
        with contextlib.suppress(RuntimeError):  # the loop is shutting down: nobody is waiting any more
            loop.call_soon_threadsafe(function, *args)

    # -- socket <-> event loop -----------------------------------------------------------------------

    def _register(self, client: mqtt.Client) -> None:
        """Hand the connected socket to the event loop (called on the loop thread after connect())."""
        assert self._loop is not None
        sock = client.socket()
        if sock is None:
            return
        self._sock = sock
        client.on_socket_close = self._paho_on_socket_close
        self._loop.add_reader(sock, self._readable)
        self._reader_registered = True
        self._flush()

    def _readable(self) -> None:
        client = self._client
        if client is None:
            return
        try:
            client.loop_read()
            sock = client.socket()
            # TLS: decrypted bytes can wait inside the SSL object without waking the selector.
            while sock is not None and getattr(sock, "pending", lambda: 0)() > 0:
                client.loop_read()
                sock = client.socket()
        # paho's parser raises on some hostile bytes (found by test_codec_fuzz.py); the stream is then
        # untrustworthy: drop it (a protocol error [MQTT-4.8.0-1]) rather than leave it to the loop.
        except Exception as error:
            log.warning("malformed data from %s: %r", self.server.name, error, exc_info=True)
            self.abort(f"malformed packet from the server ({type(error).__name__})")
            return
        self._flush()

    def _writable(self) -> None:
        client = self._client
        if client is not None:
            client.loop_write()
        self._flush()

    def _flush(self) -> None:
        """Watch for writability only while paho has bytes the kernel did not take."""
        client, sock, loop = self._client, self._sock, self._loop
        if (
            client is None
            or sock is None
            or loop is None
            or client.socket() is None
            or not self._reader_registered
        ):
            return
        wants = client.want_write()
        if wants and not self._writer_registered:
            loop.add_writer(sock, self._writable)
            self._writer_registered = True
        elif not wants and self._writer_registered:
            loop.remove_writer(sock)
            self._writer_registered = False

    def _paho_on_socket_close(self, _c: Any, _u: Any, sock: Any) -> None:
        self._unregister(sock)

    def _unregister(self, sock: Any) -> None:
        """Remove our reader/writer once, while the descriptor is still ours (a closed socket's number
        may already belong to the next connection)."""
        loop = self._loop
        if loop is None or loop.is_closed() or sock is None or not self._reader_registered:
            return
        self._reader_registered = False
        if sock.fileno() < 0:
            return
        loop.remove_reader(sock)
        if self._writer_registered:
            loop.remove_writer(sock)
        self._writer_registered = False

    def _paho_on_connect(self, _c: Any, _u: Any, flags: Any, reason: ReasonCode, props: Any) -> None:
        self._to_loop(self._on_connack, bool(flags.session_present), reason.value, str(reason), props)

    def _paho_on_disconnect(self, _c: Any, _u: Any, _flags: Any, reason: ReasonCode, _props: Any) -> None:
        self._to_loop(self._on_disconnect, str(reason))

    def _paho_on_publish(self, _c: Any, _u: Any, mid: int, reason: ReasonCode, _props: Any) -> None:
        self._to_loop(self._on_ack, mid, not reason.is_failure)

    def _paho_on_subscribe(self, _c: Any, _u: Any, mid: int, codes: list[ReasonCode], _p: Any) -> None:
        self._to_loop(self._on_request_ack, mid, [code.value for code in codes])

    def _paho_on_unsubscribe(self, _c: Any, _u: Any, mid: int, codes: list[ReasonCode], _p: Any) -> None:
        self._to_loop(self._on_request_ack, mid, [code.value for code in codes])

    def _paho_on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic  # paho decodes it here; not UTF-8 = malformed packet [MQTT-1.5.4-1]
        except UnicodeDecodeError:
            self._to_loop(self.abort, "malformed PUBLISH from the server: topic is not UTF-8")
            return
        inbound = InboundMessage(topic, bytes(message.payload), message.qos, bool(message.retain))
        self._to_loop(self._deliver, inbound)

    # -- on the loop -----------------------------------------------------------------------------------

    def _on_connack(self, session_present: bool, code: int, text: str, props: Any) -> None:
        assert self._connack is not None
        if not self._connack.done():
            outcome = connack_outcome(self.server, session_present, code, text, props)
            if isinstance(outcome, ConnectionInfo):
                self._connack.set_result(outcome)
            else:
                self._connack.set_exception(outcome)

    def _on_disconnect(self, text: str) -> None:
        reason = self._abort_reason or f"connection lost: {text}"
        if self._connack is not None and not self._connack.done():
            self._connack.set_exception(LinkError(self.server.name, "closed before CONNACK", text))
            self._connack.exception()  # retrieved: connect() may already have given up on it
        self._finish_closed(reason)

    def _finish_closed(self, reason: str) -> None:
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(reason)
        for _sent, future in self._requests.values():
            if not future.done():
                future.set_exception(LinkClosedError(self.server.name, "closed", reason))
                future.exception()
        self._requests.clear()

    def _on_ack(self, mid: int, accepted: bool) -> None:
        entry = self._acks.pop(mid, None)
        if entry is None:
            return  # QoS 0 (paho reports "written to the socket") or the probe
        sent_at, callback = entry
        self.last_ack_latency = time.monotonic() - sent_at
        if callback is not None:
            callback(accepted)

    def _on_request_ack(self, mid: int, codes: list[int]) -> None:
        entry = self._requests.pop(mid, None)
        if entry is not None and not entry[1].done():
            self.last_ack_latency = time.monotonic() - entry[0]
            entry[1].set_result(codes)

    def _deliver(self, message: InboundMessage) -> None:
        if self._on_message is not None:
            self._on_message(message)

    # -- API (loop thread) -----------------------------------------------------------------------------

    def _require_open(self) -> mqtt.Client:
        if self._client is None or not self.is_open:
            raise LinkClosedError(self.server.name, "not connected")
        return self._client

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 0,
        retain: bool = False,
        on_ack: AckCallback | None = None,
    ) -> int:
        """Queue a PUBLISH; returns its packet id. For QoS>0, ``on_ack`` runs when it is acknowledged;
        if the link dies first it never runs (the caller sees ``closed`` resolve instead).

        Raises:
            LinkClosedError: the link is closed; nothing was queued.
        """
        client = self._require_open()
        info = client.publish(topic, payload, qos, retain)
        self._flush()
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise LinkClosedError(self.server.name, "publish failed", mqtt.error_string(info.rc))
        if qos > 0:
            self._acks[info.mid] = (time.monotonic(), on_ack)
        return info.mid

    @property
    def write_pending(self) -> bool:
        """paho holds bytes the kernel did not take yet; the drain waits while this is true."""
        return self._writer_registered

    @property
    def unacknowledged(self) -> int:
        """QoS>0 publishes sent and not yet acknowledged."""
        return len(self._acks)

    async def subscribe(self, filters: Sequence[tuple[str, int]]) -> list[int]:
        """SUBSCRIBE and wait for the SUBACK (within ``ack_timeout``); returns the granted codes.

        Raises:
            LinkError: a filter was refused (code >= 0x80), the SUBACK was late, or the link closed.
        """
        client = self._require_open()
        rc, mid = client.subscribe([(topic, qos) for topic, qos in filters])
        self._flush()
        if rc != mqtt.MQTT_ERR_SUCCESS or mid is None:
            raise LinkClosedError(self.server.name, "subscribe failed", mqtt.error_string(rc))
        codes = await self._await_request(mid)
        refused = [f for f, code in zip(filters, codes, strict=False) if code >= 0x80]
        if refused:
            raise LinkError(self.server.name, "subscription refused", ", ".join(f for f, _ in refused))
        return codes

    async def _await_request(self, mid: int) -> list[int]:
        assert self._loop is not None and self._info is not None
        future: asyncio.Future[list[int]] = self._loop.create_future()
        self._requests[mid] = (time.monotonic(), future)
        return await future  # the watchdog fails it when late

    def abort(self, reason: str) -> None:
        """Drop the connection at once, without DISCONNECT (the broker keeps our Will)."""
        if self._abort_reason is None:
            self._abort_reason = reason
            log.warning("dropping connection to %s: %s", self.server.name, reason)
        client = self._client
        sock = client.socket() if client is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # type: ignore[attr-defined]

    async def close(self, final: WillMessage | None = None, timeout: float = 2.0) -> None:
        """End the connection on purpose: publish ``final`` (e.g. NDEATH) and wait for its PUBACK, then
        DISCONNECT (5.0: reason 0x04 so the broker still sends the Will, as Sparkplug requires), then wait
        for paho's thread. Safe to call on a link that is already closed."""
        if self._client is None or self._closed is None:
            return
        client = self._client
        if self.is_open:
            if final is not None:
                acked: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

                def on_final_ack(ok: bool) -> None:
                    if not acked.done():
                        acked.set_result(ok)

                with contextlib.suppress(LinkClosedError):
                    self.publish(
                        final.topic,
                        final.payload,
                        final.qos,
                        final.retain,
                        on_ack=on_final_ack,
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(acked), timeout)
            self._abort_reason = self._abort_reason or "closed by the gateway"
            if self.server.version is MqttVersion.V5:
                client.disconnect(
                    reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=_DISCONNECT_WITH_WILL)
                )
            else:
                client.disconnect()
            self._flush()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._closed), timeout)
        await self._teardown("closed by the gateway")

    async def _teardown(self, reason: str) -> None:
        if not self.closed.done():
            self.abort(reason)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.closed), 2.0)
            self._finish_closed(reason)
        if self._watchdog is not None and self._watchdog is not asyncio.current_task():
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        self._unregister(self._sock)
        leftover = self._client.socket() if self._client is not None else None
        if leftover is not None:
            # paho did not see the end of the stream in time: close the socket ourselves (no DISCONNECT).
            leftover.close()

    # -- watchdog ------------------------------------------------------------------------------------

    async def _watch(self, info: ConnectionInfo) -> None:
        probe_interval = self._failover.probe_interval_for(info.keepalive)
        ack_timeout = self._failover.ack_timeout_for(info.keepalive)
        tick = min(0.25, probe_interval / 8, ack_timeout / 8)
        last_probe = time.monotonic()
        probe: asyncio.Future[list[int]] | None = None
        while not self.closed.done():
            await asyncio.sleep(tick)
            now = time.monotonic()
            overdue = self._overdue(now, ack_timeout)
            if overdue is not None:
                self.abort(overdue)
                return
            if probe is not None and probe.done():
                probe = None
            if self._client is not None:
                self._client.loop_misc()  # paho's own keep-alive (PINGREQ) and its bookkeeping
                self._flush()
            if probe is None and now - last_probe >= probe_interval and self._client is not None:
                rc, mid = self._client.unsubscribe(self._probe_topic)
                self._flush()
                if rc == mqtt.MQTT_ERR_SUCCESS and mid is not None:
                    assert self._loop is not None
                    probe = self._loop.create_future()
                    self._requests[mid] = (now, probe)
                last_probe = now

    def _overdue(self, now: float, ack_timeout: float) -> str | None:
        oldest_publish = next(iter(self._acks.values()), None)
        late_request = any(not f.done() and now - sent > ack_timeout for sent, f in self._requests.values())
        if oldest_publish is not None and now - oldest_publish[0] > ack_timeout:
            return f"no PUBACK within {ack_timeout:.1f} s (server frozen or link dead)"
        if late_request:
            return f"no answer to a probe/SUBSCRIBE within {ack_timeout:.1f} s (server frozen or link dead)"
        return None
