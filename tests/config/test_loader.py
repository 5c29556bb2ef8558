"""The loader and builder, value by value: types, secrets, paths, origins, YAML corner cases."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from gateway.config import ConfigError, GatewayConfig, Secret, load_config, load_config_text, model
from gateway.config import devices as device_model
from gateway.config._checks import resolve_address
from gateway.control.contract.docgen import field_docs as field_descriptions

MINIMAL = "identity: {group_id: G, edge_node_id: E}\nbroker: {allow_anonymous: true}\n"


def load(text: str, tmp_path: Path, env: dict[str, str] | None = None) -> GatewayConfig:
    return load_config_text(text, label="g.yaml", base_dir=tmp_path, env=env or {}).config


def problems(text: str, tmp_path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config_text(text, label="g.yaml", base_dir=tmp_path, env=env or {})
    return [p.render() for p in info.value.problems]


def test_minimal_file_takes_safe_defaults(tmp_path: Path) -> None:
    config = load(MINIMAL, tmp_path)
    [listener] = config.broker.listeners
    assert listener.host == "127.0.0.1" and listener.tls is None
    assert config.upstream.servers == () and config.devices == ()
    assert config.store.max_bytes > 0 and config.logging.level is model.LogLevel.INFO


def test_empty_file_needs_identity_and_a_way_to_log_in(tmp_path: Path) -> None:
    got = problems("", tmp_path)
    assert got[0] == "g.yaml: missing key 'identity' (a mapping)"
    assert "broker.password_file: missing" in got[1] and len(got) == 2


def test_top_level_list_is_refused(tmp_path: Path) -> None:
    assert problems("- a\n- b\n", tmp_path) == [
        "g.yaml:1: the file must be a mapping of sections (identity:, devices:, ...)"
    ]


def test_duplicate_keys_are_problems(tmp_path: Path) -> None:
    text = MINIMAL + "store: {max_bytes: 5}\nstore: {max_bytes: 6}\n"
    assert problems(text, tmp_path) == ["g.yaml:4: store: duplicate key (first given on line 3)"]


def test_yaml_merge_keys_work(tmp_path: Path) -> None:
    text = MINIMAL + (
        "devices:\n"
        "  - &skid {id: a, protocol: modbus_tcp, host: h, tags: [{name: t, address: 40001}]}\n"
        "  - {<<: *skid, id: b}\n"
    )
    config = load(text, tmp_path)
    assert [d.id for d in config.devices] == ["a", "b"]


def test_booleans_are_not_numbers_and_numbers_not_booleans(tmp_path: Path) -> None:
    text = MINIMAL + "store: {max_bytes: true, enabled: 1}\n"
    assert problems(text, tmp_path) == [
        "g.yaml:3: store.enabled: found 1 (a int), expected true or false",
        "g.yaml:3: store.max_bytes: found true (a boolean), expected a whole number",
    ]


def test_sparkplug_ids_refuse_topic_characters(tmp_path: Path) -> None:
    for bad in ("a/b", "a+b", "#", "$x"):
        text = f"identity: {{group_id: '{bad}', edge_node_id: E}}\nbroker: {{allow_anonymous: true}}\n"
        [line] = problems(text, tmp_path)
        assert "identity.group_id:" in line and "without + / #" in line


def test_relative_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "passwd").write_text("")
    config = load(
        "identity: {group_id: G, edge_node_id: E}\nbroker: {password_file: passwd}\ndata_dir: d\n", tmp_path
    )
    assert config.broker.password_file == tmp_path / "passwd"
    assert config.data_dir == tmp_path / "d"


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "d").write_text("")
    assert problems(MINIMAL + "data_dir: d\n", tmp_path) == [
        f"g.yaml:3: data_dir: {tmp_path / 'd'} exists and is not a directory"
    ]


@pytest.mark.parametrize(
    ("entry", "env", "expected_value", "expected_origin"),
    [
        ("password_env: PW", {"PW": "from-env"}, "from-env", "env:PW"),
        ("password_file: pw.txt", {}, "from-file", "file:{tmp}/pw.txt"),
        ("password: inline", {}, "inline", "g.yaml:5"),
    ],
)
def test_secrets_come_from_env_file_or_inline(
    tmp_path: Path, entry: str, env: dict[str, str], expected_value: str, expected_origin: str
) -> None:
    (tmp_path / "pw.txt").write_text("from-file\n")
    text = (
        MINIMAL
        + f"upstream:\n  servers:\n    - host: h\n      username: u\n      {entry}\n".replace(
            "    - host: h\n      username: u\n      ", "    - {host: h, username: u, "
        ).rstrip("\n")
        + "}\n"
    )
    loaded = load_config_text(text, label="g.yaml", base_dir=tmp_path, env=env)
    secret = loaded.config.upstream.servers[0].password
    assert isinstance(secret, Secret)
    assert secret.value == expected_value
    assert secret.origin == expected_origin.format(tmp=tmp_path)
    assert expected_value not in repr(loaded.config) and str(secret) == "***"
    assert all(expected_value not in origin.value for origin in loaded.origins)


def test_two_secret_sources_are_refused(tmp_path: Path) -> None:
    text = MINIMAL + "upstream:\n  servers:\n    - {host: h, username: u, password: a, password_env: B}\n"
    [line] = problems(text, tmp_path, env={"B": "b"})
    assert "give only one of password, password_env" in line


def test_modbus_references_and_zero_based_addresses() -> None:
    tag = device_model.ModbusTagConfig
    assert resolve_address(tag("a", 40001)) == (device_model.ModbusArea.HOLDING, 0)
    assert resolve_address(tag("a", "300010")) == (device_model.ModbusArea.INPUT, 9)
    assert resolve_address(tag("a", "00001")) == (device_model.ModbusArea.COIL, 0)
    assert resolve_address(tag("a", 7, area=device_model.ModbusArea.DISCRETE)) == (
        device_model.ModbusArea.DISCRETE,
        7,
    )
    with pytest.raises(ValueError, match="quote references that start with 0"):
        resolve_address(tag("a", 1))
    with pytest.raises(ValueError, match="starts with 0, 1, 3 or 4"):
        resolve_address(tag("a", "50001"))
    with pytest.raises(ValueError, match="1-based"):
        resolve_address(tag("a", "40000"))


def test_modbus_rules(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + """\
devices:
  - id: d
    protocol: modbus_rtu
    tags:
      - {name: a, address: 40001, type: bool}
      - {name: b, address: 10001, type: int16}
      - {name: c, address: 40002, type: float32, bit: 3}
      - {name: d, address: 40004, type: string}
      - {name: e, address: 40010, scale: 0}
      - {name: f, address: 40011, poll_group: fast}
      - {name: g, address: 465536, type: uint32}
      - {name: h, address: 40020, min: 10, max: 5}
"""
    )
    got = problems(text, tmp_path)
    for expected in [
        "devices[0].serial_port: missing: modbus_rtu needs the serial device",
        "devices[0].tags[0].bit: missing: a bool in a register needs the bit number",
        "devices[0].tags[1].type: int16 in the discrete area, expected bool",
        "devices[0].tags[2].bit: only for bool tags in register areas",
        "devices[0].tags[3].length: missing: a string needs its length",
        "devices[0].tags[4].scale: 0 would make writes impossible",
        "devices[0].tags[5].poll_group: 'fast' is not one of ['default']",
        "devices[0].tags[6].address: 65535 (+2 registers) is outside 0..65535",
        "devices[0].tags[7].min: min 10 is above max 5",
    ]:
        assert any(expected in line for line in got), f"{expected!r} not in {got}"
    assert len(got) == 9


def test_opcua_rules(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + """\
devices:
  - id: o
    protocol: opcua
    endpoint: http://x
    security_policy: Basic256Sha256
    username: u
    tags:
      - {name: a}
      - {name: b, node_id: "ns=2;i=1", browse_path: "2:B"}
"""
    )
    got = problems(text, tmp_path)
    for expected in [
        "devices[0].endpoint: 'http://x', expected opc.tcp://",
        "devices[0].security_mode: None with policy Basic256Sha256",
        "devices[0].password: missing: a username needs password_env or password_file",
        "devices[0].tags[0]: give exactly one of node_id and browse_path",
        "devices[0].tags[1]: give exactly one of node_id and browse_path",
    ]:
        assert any(expected in line for line in got), f"{expected!r} not in {got}"


def test_duplicate_device_ids_and_server_names(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + """\
upstream:
  servers: [{host: a, name: s}, {host: b, name: s}]
devices:
  - {id: d, protocol: opcua, endpoint: "opc.tcp://x:4840"}
  - {id: d, protocol: opcua, endpoint: "opc.tcp://y:4840"}
"""
    )
    got = problems(text, tmp_path)
    assert any("upstream.servers[1].name: duplicate server name 's'" in line for line in got)
    assert any("devices[1].id: duplicate device id 'd' (also devices[0])" in line for line in got)


def test_bridge_rules(tmp_path: Path) -> None:
    text = MINIMAL + "bridge:\n  - {topic: 'a/#/b', remote_prefix: 'x/+/'}\n"
    got = problems(text, tmp_path)
    assert any("bridge[0].topic: 'a/#/b' is not a valid filter" in line for line in got)
    assert any("bridge[0].remote_prefix: 'x/+/': a prefix cannot contain wildcards" in line for line in got)
    assert any(
        "bridge[0].direction: copies to upstream, but upstream.servers is empty" in line for line in got
    )


def test_too_large_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("#" * (4 * 1024 * 1024 + 1))
    with pytest.raises(ConfigError, match="problem") as info:
        load_config(path)
    assert "expected at most" in info.value.problems[0].message


def test_sha256_and_text_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(MINIMAL)
    loaded = load_config(path, env={})
    assert loaded.text == MINIMAL and len(loaded.sha256) == 64 and loaded.path == path


def _config_classes() -> list[type]:
    found: list[type] = []

    def visit(tp: object) -> None:
        for arg in typing.get_args(tp):
            visit(arg)
        if isinstance(tp, type) and dataclasses.is_dataclass(tp) and tp not in found:
            found.append(tp)
            for hint in typing.get_type_hints(tp, include_extras=True).values():
                visit(hint)

    visit(GatewayConfig)
    return found


@pytest.mark.parametrize("cls", _config_classes(), ids=lambda c: c.__name__)
def test_every_configuration_field_has_a_description(cls: type) -> None:
    described = field_descriptions(cls)
    for f in dataclasses.fields(cls):
        assert described.get(f.name), f"{cls.__name__}.{f.name} has no description in its docstring"
