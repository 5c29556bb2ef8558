"""Load a configuration file: parse, build the typed model, run the cross-field checks.

``load_config(path)`` either returns a :class:`LoadedConfig` or raises :class:`ConfigError` listing
every problem found (syntax, unknown keys, types, ranges, missing files, clashes), each with its
``file:line`` and key path. Nothing is started here; the daemon applies a config only after this.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.config import _checks
from gateway.config._builder import Builder, Origin, environ
from gateway.config._yaml import YamlSyntaxError, parse
from gateway.config.errors import ConfigError, ConfigProblem
from gateway.config.model import GatewayConfig

MAX_CONFIG_BYTES = 4 * 1024 * 1024
"""A configuration file larger than this is refused (a mistake, not a plant)."""


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """A valid configuration and what it was made from.

    Attributes:
        config: the typed model.
        origins: every effective leaf value with where it came from (secrets masked).
        path: the file, or ``None`` for text given directly (the built-in demo).
        text: the file's text.
        sha256: hex SHA-256 of ``text`` (the control plane's ``apply_config`` conflict check).
    """

    config: GatewayConfig
    origins: tuple[Origin, ...]
    path: Path | None
    text: str
    sha256: str


def load_config(path: Path, *, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read and validate the configuration file at ``path``.

    Raises:
        ConfigError: the file cannot be read or has problems (all of them listed).
    """
    label = str(path)
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise ConfigError([ConfigProblem(label, None, "", "is a directory, expected a YAML file")]) from None
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(label, None, "", "no such file")]) from None
    except OSError as exc:
        raise ConfigError([ConfigProblem(label, None, "", f"cannot read: {exc.strerror or exc}")]) from None
    if len(raw) > MAX_CONFIG_BYTES:
        message = f"{len(raw)} bytes, expected at most {MAX_CONFIG_BYTES}"
        raise ConfigError([ConfigProblem(label, None, "", message)])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError([ConfigProblem(label, line, "", "not UTF-8 text")]) from None
    return load_config_text(text, label=label, base_dir=path.resolve().parent, path=path, env=env)


def load_config_text(
    text: str,
    *,
    label: str = "<text>",
    base_dir: Path | None = None,
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """Validate configuration ``text`` (what ``validate_config`` and the demo use).

    Args:
        text: the YAML text.
        label: how the source is named in problems.
        base_dir: relative paths are resolved against it (default: the current directory).
        path: the file the text came from, if any.
        env: environment variables for ``password_env`` (default: the process environment).

    Raises:
        ConfigError: every problem found.
    """
    try:
        document = parse(text)
    except YamlSyntaxError as exc:
        raise ConfigError([ConfigProblem(label, exc.line, "", exc.detail)]) from None
    if document.data is not None and not isinstance(document.data, dict):
        message = "the file must be a mapping of sections (identity:, devices:, ...)"
        raise ConfigError([ConfigProblem(label, 1, "", message)])
    builder = Builder(document, label, base_dir or Path.cwd(), environ() if env is None else env)
    config = builder.build(GatewayConfig)
    if isinstance(config, GatewayConfig):
        for key, message in _checks.check(config, builder.is_sound):
            builder.problem(key, message)
    if builder.problems or not isinstance(config, GatewayConfig):
        problems = [ConfigProblem(label, line, key, message) for line, key, message in builder.problems]
        if not problems:  # the model's own check refused it without saying where; never happens silently
            problems = [ConfigProblem(label, None, "", "the configuration could not be built")]
        raise ConfigError(problems)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return LoadedConfig(config, tuple(builder.origins), path, text, digest)
