"""The UI over TLS to a real mosquitto TLS listener (certificates made by trustme): mutual TLS works,
an untrusted server certificate and a plain client on the TLS port are explained in words."""

from __future__ import annotations

from pathlib import Path

import trustme

from tests.conftest import MosquittoFactory
from tests.support.mosquitto import MosquittoProcess
from tests.support.waiting import async_wait_until
from tests.tui.test_connection import Pump
from tui.settings import TuiSettings


def make_pki(tmp_path: Path) -> dict[str, str]:
    ca = trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1")
    client = ca.issue_cert("technician")
    paths = {
        name: str(tmp_path / name)
        for name in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key", "other-ca.pem")
    }
    ca.cert_pem.write_to_path(paths["ca.pem"])
    server.cert_chain_pems[0].write_to_path(paths["server.pem"])
    server.private_key_pem.write_to_path(paths["server.key"])
    client.cert_chain_pems[0].write_to_path(paths["client.pem"])
    client.private_key_pem.write_to_path(paths["client.key"])
    trustme.CA().cert_pem.write_to_path(paths["other-ca.pem"])
    return paths


def tls_broker(factory: MosquittoFactory, pki: dict[str, str]) -> MosquittoProcess:
    # `user root`: mosquitto started as root drops to user "mosquitto", which cannot read tmp_path (0700)
    return factory(
        [
            "user root",
            f"cafile {pki['ca.pem']}",
            f"certfile {pki['server.pem']}",
            f"keyfile {pki['server.key']}",
            "require_certificate true",
        ]
    )


async def test_mutual_tls(mosquitto_factory: MosquittoFactory, tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    broker = tls_broker(mosquitto_factory, pki)
    settings = TuiSettings(
        port=broker.port,
        tls=True,
        cafile=pki["ca.pem"],
        certfile=pki["client.pem"],
        keyfile=pki["client.key"],
        client_id="tui-tls",
    )
    with Pump(settings) as att:
        await async_wait_until(lambda: att.model.link.state == "up", message="TLS link up")


async def test_untrusted_certificate_and_plain_client_are_explained(
    mosquitto_factory: MosquittoFactory, tmp_path: Path
) -> None:
    pki = make_pki(tmp_path)
    broker = tls_broker(mosquitto_factory, pki)
    wrong_ca = TuiSettings(
        port=broker.port,
        tls=True,
        cafile=pki["other-ca.pem"],
        certfile=pki["client.pem"],
        keyfile=pki["client.key"],
        client_id="tui-tls-bad",
    )
    with Pump(wrong_ca) as att:
        await async_wait_until(lambda: att.model.link.state == "down", message="refused")
        assert f"the TLS certificate of 127.0.0.1:{broker.port} was not accepted" in att.model.link.reason
        assert "--cafile" in att.model.link.next_step
    plain = TuiSettings(port=broker.port, client_id="tui-plain-on-tls")
    with Pump(plain) as att:
        await async_wait_until(lambda: att.model.link.state == "down", timeout=15, message="refused")
        assert str(broker.port) in att.model.link.reason and "--tls" in att.model.link.next_step
