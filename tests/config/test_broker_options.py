"""Every option of the embedded broker (gateway/broker/settings.py, the persistence's recovery policy)
is reachable from the file, validated, and mapped one to one onto the broker's settings."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gateway.app import convert
from gateway.broker import BrokerLimits, BrokerSettings, QueueOverflow, TlsSettings
from gateway.config import load_config_text
from tests.config.test_broken_files import BASE, check, problem_lines

EVERY_OPTION = """\
identity: {group_id: G, edge_node_id: E}
broker:
  listeners:
    - host: 127.0.0.1
      port: 8883
      tls:
        certfile: cert.pem
        keyfile: key.pem
        cafile: ca.pem
        require_certificate: true
        use_identity_as_username: true
        handshake_timeout_s: 2.5
  allow_anonymous: false
  durable_ack: true
  sys_interval_s: 0
  response_information: "replies/"
  persistence: {enabled: true, recovery: refuse, commit_interval_s: 0.2, queue_size: 500}
  limits:
    max_connections: 50
    max_connections_per_source: 7
    connection_rate: 3.5
    connection_burst: 4
    max_keepalive: 60
    max_packet_size: 65536
    receive_maximum: 20
    max_inflight_messages: 10
    max_queued_messages: 99
    max_queued_bytes: 100000
    queue_overflow: drop_newest
    queue_qos0_offline: true
    max_topic_length: 200
    max_topic_levels: 12
    max_subscriptions_per_client: 30
    max_retained_messages: 400
    max_retained_bytes: 500000
    output_buffer_bytes: 40000
    topic_alias_maximum: 0
    max_session_expiry_s: 3600
    connect_timeout_s: 1.5
"""


def _settings(tmp_path: Path) -> BrokerSettings:
    for name in ("cert.pem", "key.pem", "ca.pem"):
        (tmp_path / name).write_text("not checked by the loader, only by check-config\n")
    loaded = load_config_text(EVERY_OPTION, label="every-option.yaml", base_dir=tmp_path)
    return convert.broker_settings(loaded.config.broker, tmp_path / "broker")


def test_every_broker_limit_is_reachable_from_the_file(tmp_path: Path) -> None:
    limits = _settings(tmp_path).limits
    defaults = BrokerLimits()
    unmapped = [
        f.name
        for f in dataclasses.fields(BrokerLimits)
        if getattr(limits, f.name) == getattr(defaults, f.name)
    ]
    assert unmapped == [], f"BrokerLimits fields the file cannot change: {unmapped}"
    assert limits.queue_overflow is QueueOverflow.DROP_NEWEST
    assert (limits.connection_rate, limits.max_session_expiry, limits.connect_timeout) == (3.5, 3600, 1.5)


def test_every_broker_setting_and_tls_option_is_mapped(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    defaults = BrokerSettings()
    unmapped = [
        f.name
        for f in dataclasses.fields(BrokerSettings)
        if f.name not in ("listeners", "password_file", "acl_file", "allow_anonymous")
        and getattr(settings, f.name) == getattr(defaults, f.name)
    ]
    assert unmapped == [], f"BrokerSettings fields the file cannot change: {unmapped}"
    tls = settings.listeners[0].tls
    assert tls is not None and tls.use_identity_as_username and tls.handshake_timeout == 2.5
    tls_defaults = TlsSettings(Path("c"), Path("k"))
    assert all(getattr(tls, f.name) != getattr(tls_defaults, f.name) for f in dataclasses.fields(TlsSettings))
    assert settings.data_dir == tmp_path / "broker" and settings.response_information == "replies/"


def test_persistence_disabled_means_in_memory(tmp_path: Path) -> None:
    text = BASE + "  persistence: {enabled: false}\n"
    loaded = load_config_text(text, label="x.yaml", base_dir=tmp_path)
    assert convert.broker_settings(loaded.config.broker, tmp_path / "broker").data_dir is None


def test_every_option_passes_check_config(tmp_path: Path) -> None:
    for name in ("cert.pem", "key.pem", "ca.pem"):
        (tmp_path / name).write_text("-----BEGIN CERTIFICATE-----\n")
    result = check(tmp_path, EVERY_OPTION)
    # no password file is needed: the certificate's CN is the user name
    assert result.returncode == 0, result.stderr


def test_bad_broker_options_are_all_reported_at_once(tmp_path: Path) -> None:
    text = (
        BASE.replace(
            "    - {host: 127.0.0.1, port: 1883}\n",
            "    - {host: 127.0.0.1, port: 1883}\n"
            "    - {host: 127.0.0.1, port: 8883, tls: {certfile: c.pem, keyfile: k.pem,"
            " use_identity_as_username: true, handshake_timeout_s: 0}}\n",
        )
        + "  persistence: {recovery: delete, commit_interval_s: 0}\n"
        + "  sys_interval_s: -1\n"
        + "  limits: {queue_overflow: drop_random, connection_rate: 0, output_buffer_bytes: 100}\n"
    )
    (tmp_path / "c.pem").write_text("x")
    (tmp_path / "k.pem").write_text("x")
    result = check(tmp_path, text)
    assert result.returncode == 2
    lines = problem_lines(result)
    expected = {
        "broker.listeners[1].tls.handshake_timeout_s": "0 is out of range",
        "broker.listeners[1].tls.use_identity_as_username": "require_certificate is false",
        "broker.persistence.recovery": "'move_aside'",
        "broker.persistence.commit_interval_s": "expected 0.001..10",
        "broker.sys_interval_s": "expected >= 0",
        "broker.limits.queue_overflow": "'drop_oldest'",
        "broker.limits.connection_rate": "expected > 0",
        "broker.limits.output_buffer_bytes": "expected >= 1024",
    }
    for key, reason in expected.items():
        assert any(f": {key}: " in line and reason in line for line in lines), (key, lines)
    assert len(lines) == len(expected), lines


def test_limits_that_cannot_work_together(tmp_path: Path) -> None:
    text = BASE + "  limits: {max_packet_size: 100000, output_buffer_bytes: 20000, max_queued_bytes: 5000}\n"
    result = check(tmp_path, text)
    assert result.returncode == 2
    lines = problem_lines(result)
    assert any(
        "broker.limits.output_buffer_bytes: 20000" in line and "at least 50000" in line for line in lines
    )
    assert any("broker.limits.max_queued_bytes: 5000" in line for line in lines), lines


def test_certificate_identity_needs_a_required_certificate(tmp_path: Path) -> None:
    for name in ("c.pem", "k.pem"):
        (tmp_path / name).write_text("x")
    text = BASE.replace(
        "    - {host: 127.0.0.1, port: 1883}\n",
        "    - {host: 127.0.0.1, port: 8883, tls: {certfile: c.pem, keyfile: k.pem,"
        " use_identity_as_username: true}}\n",
    )
    result = check(tmp_path, text)
    assert result.returncode == 2
    [line] = problem_lines(result)
    assert "broker.listeners[0].tls.use_identity_as_username: true, but require_certificate is false" in line


def test_risky_broker_options_are_warned_about(tmp_path: Path) -> None:
    text = (
        BASE
        + "  persistence: {enabled: false}\n  limits: {max_connections: 5, max_connections_per_source: 9}\n"
    )
    result = check(tmp_path, text)
    assert result.returncode == 0, result.stderr
    assert "warning: broker.limits.max_connections_per_source is above max_connections" in result.stderr
    assert "warning: broker.persistence.enabled is false" in result.stderr
