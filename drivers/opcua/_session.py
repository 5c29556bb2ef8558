"""Opening an asyncua client session per the spec: endpoint, security, identity."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from drivers._aio import cancel_and_wait, within
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
        await _stop_builtin_supervisor(client)
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


async def _stop_builtin_supervisor(client: Any) -> None:
    """Stop the two watchdogs asyncua 2.1 starts in ``Client.connect()``; the driver does both jobs.

    - the connection supervisor: without ``auto_reconnect`` it reacts to a lost link by marking the
      client DISCONNECTED and exiting, which would race our own re-activation
      (:func:`reactivate_session`) and make its requests fail fast;
    - the stale-subscription watchdog: it recreates a subscription that has been silent for
      ~1.5 keep-alives, which would replace the subscription a re-activation is about to transfer
      (and duplicates the driver's own staleness handling, catalogue T56).

    ``_supervisor_task`` and ``_stale_watchdog_task`` are asyncua's private attributes;
    ``Client.close_session`` cancels the same tasks.
    """
    for attribute in ("_supervisor_task", "_stale_watchdog_task"):
        task = getattr(client, attribute, None)
        if isinstance(task, asyncio.Task):
            await cancel_and_wait([task])
        setattr(client, attribute, None)


async def reactivate_session(client: Any, server: OpcUaServer) -> None:
    """ActivateSession of the client's *existing* session on a new SecureChannel (OPC 10000-4, 5.6.3.1:
    a client re-activates its session after a lost SecureChannel, within the session timeout).

    The old socket is dropped, a new one opened (Hello, OpenSecureChannel with the same security
    policy), and ActivateSession sent with the old authentication token and the same identity. The
    server (asyncua >= 2.1 looks the session up by token) keeps the session's subscriptions and
    rebinds their publish callbacks; the caller then restores its subscription.

    Raises:
        DeviceError: TIMEOUT/IO while the link is still down (worth retrying), EXCEPTION with
            ``code`` BadSessionIdInvalid/BadSessionClosed when the server no longer holds the
            session (create a new one), SECURITY for trust or identity problems.
    """
    identity = server.identity
    username = password = None
    if isinstance(identity, UserPassword):
        username, password = identity.username, identity.password
    certificate = client.user_certificate if isinstance(identity, X509Identity) else None
    client.disconnect_socket()
    try:
        await within(server.request_timeout, client.connect_socket())
        await within(server.request_timeout, client.send_hello())
        await within(server.request_timeout, client.open_secure_channel())
        client.uaclient.session.rebind_authentication_token()
        await within(
            server.request_timeout,
            client.activate_session(username=username, password=password, certificate=certificate),
        )
    except asyncio.CancelledError:
        client.disconnect_socket()
        raise
    except Exception as exc:  # asyncua raises many unrelated types; translated in one place
        client.disconnect_socket()
        raise from_opcua(exc, server.name, server.endpoint) from exc
    # the publish loop died with the old socket; the channel renewal loop survives a lost link
    # (it only sleeps until 75 % of the channel lifetime) and is restarted only if it ended.
    client.uaclient.ensure_publish_loop()
    client._start_renew_loop()


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
