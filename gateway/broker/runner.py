"""Running the broker standalone (``edge-gateway broker``) until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import sys
import tomllib
from pathlib import Path
from typing import Any

from gateway.broker.service import Broker
from gateway.broker.settings import BrokerLimits, BrokerSettings, ListenerSettings, TlsSettings
from gateway.errors import StartupError


def settings_from_mapping(data: dict[str, Any], where: str) -> BrokerSettings:
    """Build BrokerSettings from a ``[broker]`` table: keys are the dataclass field names; ``listeners`` is
    a list of tables (with an optional ``tls`` table); ``limits`` a table. Raises StartupError naming the key.

    The gateway's config package owns the full configuration file; this reader exists so the standalone
    broker can be configured before that lands, and accepts exactly the BrokerSettings fields.
    """
    problems: list[str] = []

    def build(cls: type[Any], table: dict[str, Any], path: str) -> Any:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(table) - names)
        for key in unknown:
            problems.append(
                f"{where}: {path}.{key}: unknown key (expected one of {', '.join(sorted(names))})"
            )
        kwargs = {k: v for k, v in table.items() if k in names}
        for key, value in list(kwargs.items()):
            if (
                key in ("certfile", "keyfile", "cafile", "password_file", "acl_file", "data_dir")
                and value is not None
            ):
                kwargs[key] = Path(value)
        try:
            return cls(**kwargs)
        except TypeError as exc:
            problems.append(f"{where}: {path}: {exc}")
            return None

    table = dict(data)
    listeners = []
    for index, raw in enumerate(table.pop("listeners", [{}])):
        item = dict(raw)
        tls = item.pop("tls", None)
        if tls is not None:
            item["tls"] = build(TlsSettings, tls, f"broker.listeners[{index}].tls")
        listeners.append(build(ListenerSettings, item, f"broker.listeners[{index}]"))
    limits = build(BrokerLimits, table.pop("limits", {}), "broker.limits")
    settings: BrokerSettings | None = build(BrokerSettings, table, "broker")
    if problems or settings is None:
        raise StartupError(
            "invalid broker configuration:\n  " + "\n  ".join(problems), hint="fix the keys above"
        )
    return dataclasses.replace(settings, listeners=tuple(listeners), limits=limits)


def load_settings(
    config: str | None, host: str | None, port: int | None, allow_anonymous: bool
) -> BrokerSettings:
    settings = BrokerSettings(allow_anonymous=allow_anonymous)
    if config is not None:
        path = Path(config)
        try:
            data = tomllib.loads(path.read_text())
        except OSError as exc:
            raise StartupError(f"cannot read {path}: {exc.strerror}", hint="check the path") from None
        except tomllib.TOMLDecodeError as exc:
            raise StartupError(f"{path}: not valid TOML: {exc}", hint="fix the syntax at that line") from None
        settings = settings_from_mapping(data.get("broker", {}), str(path))
        if allow_anonymous:
            settings = dataclasses.replace(settings, allow_anonymous=True)
    if host is not None or port is not None:
        first = settings.listeners[0]
        first = dataclasses.replace(
            first,
            host=host if host is not None else first.host,
            port=port if port is not None else first.port,
        )
        settings = dataclasses.replace(settings, listeners=(first, *settings.listeners[1:]))
    return settings


async def run_standalone(
    config: str | None, host: str | None, port: int | None, allow_anonymous: bool
) -> None:
    settings = load_settings(config, host, port, allow_anonymous)
    # --- security and durability hooks (gateway.broker.auth, gateway.broker.persistence) ---
    from gateway.broker.auth import build_security
    from gateway.broker.persistence import SqlitePersistence

    security = build_security(settings)  # StartupError on a bad password or ACL file
    broker = Broker(
        settings,
        authenticator=security.authenticator,
        authorizer=security.authorizer,
        persistence=SqlitePersistence(settings.data_dir) if settings.data_dir is not None else None,
    )
    # --- end of hooks ---
    await broker.start()
    for bound_host, bound_port in broker.addresses:
        # The one line scripts and tests read to find the port (port 0 allowed).
        sys.stdout.write(f"listening on {bound_host}:{bound_port}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # SIGHUP re-reads the password and ACL files; an invalid file keeps the old ones (logged).
    loop.add_signal_handler(signal.SIGHUP, security.files.reload)
    try:
        await stop.wait()
    finally:
        await broker.stop()
