"""The MQTT 5 client of the UI: paho-mqtt in one thread of its own, reconnecting by itself.

Theory of operation
-------------------
One daemon thread owns the paho ``Client`` and is the only thread that ever calls it: it connects,
runs ``loop()`` in short slices, and between slices publishes the requests that other threads queued
with :meth:`ControlClient.publish_request` (paho's ``publish`` from a foreign thread would write to the
socket from that thread while ``loop`` runs here, since we do not use ``loop_start``). Everything it
learns goes to ``sink`` as :mod:`tui.connection.events` values; the sink must be thread-safe (the app
passes a function that queues the event and wakes the UI with ``post_message``). No widget is ever
touched from this thread. After a slice that received data the thread waits ``_GATHER_S`` (20 ms;
a queued request ends the wait at once) so that the next slice reads the messages of that time in
one go rather than waking per message (see :class:`_PahoClient`).

Connecting is our own loop rather than paho's ``loop_start``/``reconnect_delay_set`` because paho's
retry hides the exception (``on_connect_fail`` gets none), and the person must read *why*: "connection
refused on 127.0.0.1:1883", the CONNACK reason, or "accepted TCP but no MQTT answer". Back-off grows
from 0.5 s to 5 s (30 s after a refusal that retrying cannot fix, such as a bad password).

Requests are QoS 1, so the broker answers each with a PUBACK; an MQTT 5 PUBACK reason of 0x87
("not authorized", [MQTT-3.4.2.1]) means this user lacks the admin role: it is reported as
:class:`PublishRefused` and the app turns read-only.
"""

from __future__ import annotations

import logging
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from tui._contract import SPARKPLUG_FILTER, STATUS_SUBSCRIPTIONS, c
from tui.connection.events import (
    LinkConnecting,
    LinkDown,
    LinkEvent,
    LinkUp,
    PublishRefused,
    Received,
)
from tui.connection.explain import (
    FATAL_CONNACK,
    explain_connack,
    explain_lost,
    explain_no_connack,
    explain_socket_error,
)
from tui.settings import TuiSettings

log = logging.getLogger(__name__)

Sink = Callable[[LinkEvent], None]

_SLICE_S = 0.05  # how long one loop() slice waits; bounds the latency of a queued request
_READ_CHUNK = 65536  # bytes asked of the socket per recv (paho asks for 1 byte at a time)
_MAX_PACKETS_PER_READ = 1000  # packets handled per loop() before writes get their turn
# After a slice that received something, wait this long (or until a request is queued) before the
# next one, so the messages that arrive meanwhile are read and handled in one go: the daemon sends
# ~200 small messages a second spread evenly, and waking this thread for each (a select, recvs,
# the GIL taken from the UI thread) cost more than handling it.
_GATHER_S = 0.02
_CONNACK_WAIT_S = 5.0
_BACKOFF_START_S = 0.5
_BACKOFF_MAX_S = 5.0
_BACKOFF_FATAL_S = 30.0


class _PahoClient(mqtt.Client):
    """paho's client with two changes.

    It closes the TLS socket it leaks when the handshake fails (paho 2.2: ``_ssl_wrap_socket`` raises
    from ``do_handshake`` and drops the half-open ``SSLSocket``, which then stays open until the
    garbage collector finds it).

    It reads the socket in large chunks: paho 2.2 reads a packet with one ``recv`` for its first byte,
    one per byte of its remaining length and one for the rest, and ``loop()`` handles a single packet
    per ``select``. At 200 messages a second that is four system calls and a ``select`` per message.
    Here ``_sock_recv`` serves paho's small reads from a buffer filled by one ``recv`` of up to
    :data:`_READ_CHUNK` bytes, and :meth:`loop_read` handles every packet already received.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0
        self.bytes_read = 0  # total received, so the caller can tell whether a slice had traffic

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rpos >= len(self._rbuf):
            chunk = super()._sock_recv(max(bufsize, _READ_CHUNK))  # BlockingIOError when none
            if not chunk:
                return chunk  # closed by the broker: paho reports the connection lost
            self.bytes_read += len(chunk)
            if len(chunk) <= bufsize:
                return chunk
            self._rbuf, self._rpos = chunk, 0
        start = self._rpos
        self._rpos = end = min(start + bufsize, len(self._rbuf))
        return self._rbuf[start:end]

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Handle packets until the socket has nothing more (paho's handles one per call), at most
        :data:`_MAX_PACKETS_PER_READ` (writes and keep-alive then get their turn; the caller then
        skips ``select`` while :attr:`has_buffered`). ``max_packets`` is ignored."""
        for _ in range(_MAX_PACKETS_PER_READ):
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:  # the socket is empty (or a huge packet pauses)
                return MQTTErrorCode.MQTT_ERR_SUCCESS
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    @property
    def has_buffered(self) -> bool:
        """Bytes received and not yet handled (the next ``loop`` must not wait in ``select``)."""
        return self._rpos < len(self._rbuf)

    def _ssl_wrap_socket(self, tcp_sock: socket.socket) -> ssl.SSLSocket:
        try:
            return super()._ssl_wrap_socket(tcp_sock)
        except (OSError, ValueError) as exc:
            tb = exc.__traceback__
            while tb is not None:
                leaked = tb.tb_frame.f_locals.get("ssl_sock")
                if isinstance(leaked, ssl.SSLSocket):
                    leaked.close()
                tb = tb.tb_next
            raise


@dataclass(frozen=True, slots=True)
class _Outgoing:
    topic: str
    payload: bytes
    correlation: bytes


class ControlClient:
    """Attach to the daemon's broker and keep attached until :meth:`stop`.

    Args:
        settings: where and how to connect.
        sink: receives every event, from the connection thread; must be thread-safe.
    """

    def __init__(self, settings: TuiSettings, sink: Sink) -> None:
        self._settings = settings
        self._sink = sink
        self._client_id = settings.effective_client_id
        self.reply_topic = c.reply_topic(self._client_id)
        self._outgoing: queue.SimpleQueue[_Outgoing] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._kick = threading.Event()  # a request was queued, or stop: end the gather wait
        self._thread = threading.Thread(target=self._run, name="tui-mqtt", daemon=True)
        self._connected = threading.Event()
        self._mid_to_correlation: dict[int, bytes] = {}
        self._connack: tuple[int, str] | None = None

    # ---- public API (any thread) -----------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Disconnect cleanly and wait for the thread to end."""
        self._stop.set()
        self._kick.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def publish_request(self, topic: str, payload: bytes, correlation: bytes) -> None:
        """Queue a request for the connection thread (sent within one loop slice)."""
        self._outgoing.put(_Outgoing(topic, payload, correlation))
        self._kick.set()

    # ---- the connection thread -----------------------------------------------------------------

    def _now_ms(self) -> int:
        return self._settings.clock()

    def _emit(self, event: LinkEvent) -> None:
        self._sink(event)

    def _new_client(self) -> _PahoClient:
        s = self._settings
        client = _PahoClient(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            reconnect_on_failure=False,
        )
        if s.username is not None:
            client.username_pw_set(s.username, s.password)
        if s.tls:
            client.tls_set(ca_certs=s.cafile, certfile=s.certfile, keyfile=s.keyfile)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    def _run(self) -> None:
        backoff = _BACKOFF_START_S
        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            self._emit(LinkConnecting(self._settings.address, attempt, self._now_ms()))
            self._connack = None
            client = self._new_client()
            outcome = self._session(client)
            leftover = client.socket()
            if leftover is not None:  # a failed session can leave the socket open; this client is done
                leftover.close()
            self._connected.clear()
            self._mid_to_correlation.clear()
            if outcome is None:  # stopped on request
                break
            reason, next_step, fatal, was_up = outcome
            if was_up:
                backoff, attempt = _BACKOFF_START_S, 0
            wait = _BACKOFF_FATAL_S if fatal else backoff
            self._emit(LinkDown(self._settings.address, reason, next_step, self._now_ms(), wait, fatal))
            log.info("control link down (%s); retrying in %.1f s", reason, wait)
            if self._stop.wait(wait):
                break
            backoff = min(backoff * 2, _BACKOFF_MAX_S)

    def _session(self, client: _PahoClient) -> tuple[str, str, bool, bool] | None:
        """Run one connection; return why it ended (reason, next step, fatal, was up), or None if stopped."""
        s = self._settings
        try:
            client.connect(s.host, s.port, keepalive=s.keepalive_s, clean_start=True)
        except (OSError, ValueError) as exc:  # ssl.SSLError and socket.gaierror are OSErrors
            reason, hint = explain_socket_error(exc, s)
            return reason, hint, False, False
        started = time.monotonic()
        was_up = False
        seen = 0
        try:
            while not self._stop.is_set():
                busy = client.has_buffered or self._kick.is_set()
                # paho's loop reads only when select reports the socket readable, and select cannot
                # see packets already in our buffer: those are handled here
                rc = client.loop_read() if client.has_buffered else MQTTErrorCode.MQTT_ERR_SUCCESS
                if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                    rc = client.loop(timeout=0.0 if busy else _SLICE_S)
                if self._connack is not None and not was_up:
                    code, name = self._connack
                    if code >= 0x80:
                        reason, hint = explain_connack(code, name, s)
                        return reason, hint, code in FATAL_CONNACK, False
                    was_up = True
                    self._subscribe(client)
                    self._connected.set()
                    self._emit(LinkUp(s.address, self._now_ms()))
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    name = mqtt.error_string(rc)
                    if not was_up:
                        return (
                            f"{s.address} closed the connection before accepting it ({name})",
                            ("check --tls, --username and the broker's log"),
                            False,
                            False,
                        )
                    reason, hint = explain_lost(name, s)
                    return reason, hint, False, True
                if not was_up and time.monotonic() - started > _CONNACK_WAIT_S:
                    reason, hint = explain_no_connack(s, _CONNACK_WAIT_S)
                    return reason, hint, False, False
                if was_up:
                    self._kick.clear()  # before sending: a request queued from now on ends the wait
                    self._send_queued(client)
                    if client.bytes_read != seen and not client.has_buffered:
                        seen = client.bytes_read
                        self._kick.wait(_GATHER_S)
        except OSError as exc:
            reason, hint = explain_socket_error(exc, s)
            return reason, hint, False, was_up
        client.disconnect()
        client.loop(timeout=_SLICE_S)
        return None

    def _subscribe(self, client: mqtt.Client) -> None:
        filters = [*STATUS_SUBSCRIPTIONS, self.reply_topic]
        if self._settings.subscribe_sparkplug:
            filters += [SPARKPLUG_FILTER, c.SPARKPLUG_RELAY_FILTER]  # local, and the upstream copies
        client.subscribe([(f, SubscribeOptions(qos=0)) for f in filters])

    def _send_queued(self, client: mqtt.Client) -> None:
        while True:
            try:
                item = self._outgoing.get_nowait()
            except queue.Empty:
                return
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.ResponseTopic = self.reply_topic
            props.CorrelationData = item.correlation
            info = client.publish(item.topic, item.payload, qos=1, properties=props)
            self._mid_to_correlation[info.mid] = item.correlation
            log.debug("request %r on %s (mid %d)", item.correlation, item.topic, info.mid)

    # ---- paho callbacks (run inside loop(), on this thread) --------------------------------------

    def _on_connect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        self._connack = (reason.value, reason.getName())

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        props = getattr(msg, "properties", None)
        correlation = getattr(props, "CorrelationData", None) if props is not None else None
        self._emit(Received(msg.topic, bytes(msg.payload), bool(msg.retain), self._now_ms(), correlation))

    def _on_publish(
        self, _client: mqtt.Client, _userdata: Any, mid: int, reason: ReasonCode, _props: Any
    ) -> None:
        correlation = self._mid_to_correlation.pop(mid, None)
        if correlation is not None and reason.is_failure:
            self._emit(PublishRefused(correlation, reason.value, reason.getName()))
