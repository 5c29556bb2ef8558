"""TLS towards the upstream (CA, client certificate, hostname check) and the server's Keep Alive."""

from __future__ import annotations

import asyncio

import pytest
import trustme

from gateway.uplink import FailoverSettings, LinkError, MqttVersion, PahoLink, ServerSettings, TlsSettings

FAST = FailoverSettings(connect_timeout=2.0)


@pytest.fixture
def pki(tmp_path):
    ca = trustme.CA()
    server_cert = ca.issue_cert("localhost", "127.0.0.1")
    client_cert = ca.issue_cert("gateway-client")
    paths = {
        "ca": tmp_path / "ca.pem",
        "server": tmp_path / "server.pem",
        "server_key": tmp_path / "server.key",
        "client": tmp_path / "client.pem",
        "client_key": tmp_path / "client.key",
    }
    ca.cert_pem.write_to_path(str(paths["ca"]))
    server_cert.private_key_pem.write_to_path(str(paths["server_key"]))
    server_cert.cert_chain_pems[0].write_to_path(str(paths["server"]))
    client_cert.private_key_pem.write_to_path(str(paths["client_key"]))
    client_cert.cert_chain_pems[0].write_to_path(str(paths["client"]))
    other = trustme.CA()
    paths["other_ca"] = tmp_path / "other-ca.pem"
    other.cert_pem.write_to_path(str(paths["other_ca"]))
    return paths


def tls_broker(mosquitto_factory, pki, require_certificate: bool, host: str = "127.0.0.1"):
    return mosquitto_factory(
        host=host,
        extra_config=[
            # Run as root, mosquitto drops to user "mosquitto" after binding and then cannot read the keys
            # under pytest's private tmp directory; "user root" keeps it from switching.
            "user root",
            f"cafile {pki['ca']}",
            f"certfile {pki['server']}",
            f"keyfile {pki['server_key']}",
            f"require_certificate {'true' if require_certificate else 'false'}",
        ],
    )


async def test_tls_with_client_certificate(mosquitto_factory, pki) -> None:
    broker = tls_broker(mosquitto_factory, pki, require_certificate=True)
    tls = TlsSettings(ca_file=pki["ca"], cert_file=pki["client"], key_file=pki["client_key"])
    link = PahoLink(ServerSettings(host="127.0.0.1", port=broker.port, tls=tls, client_id="tls-gw"), FAST)
    await link.connect()
    await link.subscribe([("t/#", 1)])
    acked = asyncio.get_running_loop().create_future()
    link.publish("t/x", b"over tls", 1, on_ack=acked.set_result)
    assert await asyncio.wait_for(acked, 5) is True
    await link.close()


async def test_tls_rejects_an_untrusted_server_certificate(mosquitto_factory, pki) -> None:
    broker = tls_broker(mosquitto_factory, pki, require_certificate=False)
    tls = TlsSettings(ca_file=pki["other_ca"])
    link = PahoLink(ServerSettings(host="127.0.0.1", port=broker.port, tls=tls), FAST)
    with pytest.raises(LinkError, match="TLS error"):
        await link.connect()


async def test_tls_hostname_check_can_be_turned_off_for_lab_setups(mosquitto_factory, pki) -> None:
    broker = tls_broker(mosquitto_factory, pki, require_certificate=False, host="127.0.0.2")
    # The certificate names localhost and 127.0.0.1, not 127.0.0.2: accepted only without the hostname check.
    strict = PahoLink(
        ServerSettings(host="127.0.0.2", port=broker.port, tls=TlsSettings(ca_file=pki["ca"])), FAST
    )
    with pytest.raises(LinkError, match="TLS error"):
        await strict.connect()
    lax_tls = TlsSettings(ca_file=pki["ca"], check_hostname=False)
    lax = PahoLink(ServerSettings(host="127.0.0.2", port=broker.port, tls=lax_tls), FAST)
    await lax.connect()
    await lax.close()


@pytest.mark.slow
@pytest.mark.timeout(40)
async def test_server_keep_alive_from_connack_drives_the_watchdog(mosquitto_factory) -> None:
    # mosquitto's max_keepalive answers a larger request with Server Keep Alive in a 5.0 CONNACK (T43).
    broker = mosquitto_factory(["max_keepalive 10"])
    server = ServerSettings(host="127.0.0.1", port=broker.port, keepalive=60, version=MqttVersion.V5)
    link = PahoLink(server, FAST)
    info = await link.connect()
    assert info.keepalive == 10
    # Idle for longer than the server's keep-alive: probes keep the session alive, nothing is dropped.
    await asyncio.sleep(0)
    done, _ = await asyncio.wait({link.closed}, timeout=5)
    assert not done, link.closed.result()
    broker.freeze()
    try:
        reason = await asyncio.wait_for(link.closed, 15)  # detected with the server's 10 s, not our 60 s
    finally:
        broker.thaw()
    assert "frozen or link dead" in reason
    await link.close()
