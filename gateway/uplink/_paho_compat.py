"""Building and connecting a paho-mqtt 2.2 client for one server, and a workaround for one of its leaks.

Kept apart from ``_link`` so the connection logic reads without paho's configuration details.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.uplink._config import FailoverSettings, MqttVersion, ServerSettings
from gateway.uplink._exceptions import ConnectRefusedError, CredentialsRejectedError
from gateway.uplink._link_types import ConnectionInfo, WillMessage

# 3.1.1 CONNACK return codes 4/5 and 5.0 reason codes 0x86/0x87/0x8C: our credentials are the problem.
_CREDENTIAL_CODES = {4, 5, 0x86, 0x87, 0x8C}

wire_log = logging.getLogger("gateway.uplink.wire")
"""paho's own log (DEBUG: every packet in and out); turn this logger on to see the wire."""


def build_client(server: ServerSettings, failover: FailoverSettings, will: WillMessage | None) -> mqtt.Client:
    """A fresh paho client for one connection attempt (callbacks are set by the caller)."""
    v5 = server.version is MqttVersion.V5
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=server.client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        # Sparkplug never relies on a persistent session [principles-persistence-clean-session-311].
        clean_session=None if v5 else True,
        reconnect_on_failure=False,
    )
    client.enable_logger(wire_log)
    client.connect_timeout = failover.connect_timeout
    # We keep our own in-flight window (Receive Maximum); paho must not hold messages back itself.
    client.max_inflight_messages = 0
    if server.username is not None:
        client.username_pw_set(server.username, server.password)
    if server.tls is not None:
        tls = server.tls
        client.tls_set(
            ca_certs=str(tls.ca_file) if tls.ca_file else None,
            certfile=str(tls.cert_file) if tls.cert_file else None,
            keyfile=str(tls.key_file) if tls.key_file else None,
        )
        client.tls_insecure_set(not tls.check_hostname)
    if will is not None:
        properties = None
        if v5:
            properties = Properties(PacketTypes.WILLMESSAGE)  # type: ignore[no-untyped-call]
            properties.WillDelayInterval = 0  # Sparkplug: NDEATH at once (§3)
        client.will_set(will.topic, will.payload, will.qos, will.retain, properties)
    return client


def connect_blocking(client: mqtt.Client, server: ServerSettings) -> None:
    """TCP connect, TLS handshake and CONNECT; blocking, bounded by ``client.connect_timeout``."""
    if server.version is MqttVersion.V5:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 0  # [principles-persistence-clean-session-50]
        client.connect(server.host, server.port, server.keepalive, clean_start=True, properties=properties)
    else:
        client.connect(server.host, server.port, server.keepalive)


def close_leaked_sockets(error: BaseException) -> None:
    """paho 2.2 does not close the socket it created when the TLS handshake (or the wrap) fails: it is a
    local variable of ``Client._create_socket``/``_ssl_wrap_socket``, never stored in the client. It is
    still referenced by the traceback's frames; close it there instead of leaking a file descriptor."""
    tb = error.__traceback__
    while tb is not None:
        for value in list(tb.tb_frame.f_locals.values()):
            if isinstance(value, socket.socket):
                value.close()
        tb = tb.tb_next


def connack_outcome(
    server: ServerSettings, session_present: bool, code: int, text: str, props: Any
) -> ConnectionInfo | ConnectRefusedError:
    """What paho's ``on_connect`` arguments mean: the accepted connection, or the refusal to raise
    (:class:`CredentialsRejectedError` when our credentials are the problem)."""
    if code >= 0x80 or (server.version is MqttVersion.V311 and code != 0):
        error_type = CredentialsRejectedError if code in _CREDENTIAL_CODES else ConnectRefusedError
        return error_type(server.name, f"refused: {text}", code)
    keepalive = server.keepalive
    receive_maximum = 65535
    if props is not None:
        keepalive = int(getattr(props, "ServerKeepAlive", keepalive))
        receive_maximum = int(getattr(props, "ReceiveMaximum", receive_maximum))
    return ConnectionInfo(server.name, keepalive, receive_maximum, session_present)
