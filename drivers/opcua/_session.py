"""Opening an asyncua client session per the spec: endpoint, security, identity."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from drivers._aio import within
from drivers.errors import DeviceError, ErrorKind, from_opcua
from drivers.opcua import _lazy as lazy
from drivers.opcua._security import (
    check_server_certificate,
    ensure_client_certificate,
    policy_class,
    select_endpoint,
)
from drivers.opcua._spec import OpcUaServer, SecurityPolicy, UserPassword, X509Identity

log = logging.getLogger(__name__)


async def open_session(server: OpcUaServer) -> Any:
    """Connect and activate a session; return the asyncua ``Client``.

    Raises:
        DeviceError: every failure, translated (SECURITY for trust/policy problems,
            :class:`~drivers.errors.CertificateTrustError` for an untrusted server certificate).
    """
    ua = lazy.ua()
    Client = lazy.client_class()  # noqa: N806

    client = Client(server.endpoint, timeout=server.request_timeout)
    client.application_uri = server.application_uri
    client.name = client.description = "edge-gateway"
    client.session_timeout = int(server.session_timeout * 1000)
    identity = server.identity
    if isinstance(identity, UserPassword):
        client.set_user(identity.username)
        client.set_password(identity.password)
    try:
        endpoints = await within(server.request_timeout * 2, client.connect_and_get_server_endpoints())
        endpoint = select_endpoint(server, endpoints)
        if server.security_policy is not SecurityPolicy.NONE:
            cert, key = await ensure_client_certificate(server, client)
            check_server_certificate(server, bytes(endpoint.ServerCertificate))
            await client.set_security(
                policy_class(server.security_policy),
                cert,
                key,
                server_certificate=bytes(endpoint.ServerCertificate),
                mode=ua.MessageSecurityMode(int(server.security_mode)),
            )
        if isinstance(identity, X509Identity):
            await client.load_client_certificate(str(identity.certificate))
            await client.load_private_key(identity.private_key)
        await within(server.request_timeout * 2, client.connect())
    except DeviceError:
        await close_quietly(client)
        raise
    except asyncio.CancelledError:
        await close_quietly(client)
        raise
    except Exception as exc:  # asyncua raises many unrelated types; translated in one place
        await close_quietly(client)
        raise from_opcua(exc, server.name, server.endpoint) from exc
    return client


async def close_quietly(client: Any) -> None:
    """Close the session and socket, ignoring failures of an already broken connection."""
    try:
        await within(2.0, client.disconnect())
    except (TimeoutError, OSError, ConnectionError) as exc:
        log.debug("closing a broken OPC UA connection: %s", exc)
    except Exception as exc:  # the session may be half-open; nothing to do but log
        log.debug("closing a broken OPC UA connection: %r", exc)
        try:
            client.disconnect_socket()
        except (OSError, AttributeError) as inner:
            log.debug("socket already gone: %r", inner)


def security_error(server: OpcUaServer, detail: str) -> DeviceError:
    return DeviceError(server.name, ErrorKind.SECURITY, detail)
