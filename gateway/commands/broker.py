"""``edge-gateway broker [-c FILE] [--host H] [--port P]``: run the embedded broker on its own.

With ``-c`` the broker uses the ``broker:`` section and ``data_dir`` of a gateway configuration file
(the same file ``edge-gateway run`` takes): listeners, TLS, limits, password and ACL files, and SQLite
persistence under ``DATA_DIR/broker``. Without it: one listener on 127.0.0.1:1883, in memory, anonymous
clients refused unless ``--allow-anonymous``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.broker import Broker


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "broker",
        help="run the embedded MQTT broker standalone",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument("-c", "--config", metavar="FILE", help="gateway configuration file (YAML)")
    parser.add_argument("--host", default=None, help="address of the first listener (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=None, help="port of the first listener (0 = any free port)"
    )
    parser.add_argument(
        "--allow-anonymous",
        action="store_true",
        help="accept clients without credentials (refused by default)",
    )
    parser.add_argument(
        "--data-dir", metavar="DIR", default=None, help="keep retained messages and sessions in DIR (SQLite)"
    )
    parser.add_argument(
        "--durable-ack",
        action="store_true",
        help="send PUBACK/PUBREC only after the store committed the message (with a data directory)",
    )
    parser.add_argument(
        "--response-information",
        metavar="PREFIX",
        default=None,
        help="MQTT 5.0 Response Information for clients that request it: PREFIX + client id + '/'",
    )
    parser.set_defaults(func=run)


class _TerminatedError(Exception):
    """SIGTERM arrived while no event-loop handler was installed (start-up or shutdown windows)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _TerminatedError


def build_broker(args: argparse.Namespace) -> tuple[Broker, Callable[[], object] | None]:
    """The Broker the arguments describe, with its security and persistence hooks, and the function that
    re-reads its password and ACL files (None without them).

    Raises ConfigError (invalid file) or StartupError (security files unusable)."""
    import dataclasses

    from gateway.broker import Broker, BrokerSettings
    from gateway.errors import StartupError

    settings = BrokerSettings()
    store_options: dict[str, Any] = {}
    if args.config is not None:
        from gateway.app.convert import broker_settings
        from gateway.broker.persistence import Recovery
        from gateway.config.loader import load_config

        loaded = load_config(Path(args.config))
        settings = broker_settings(loaded.config.broker, loaded.config.data_dir / "broker")
        stored = loaded.config.broker.persistence
        # The store options of the file, as the daemon applies them (recovery policy, commit interval).
        store_options = {
            "recovery": Recovery(stored.recovery.value),
            "commit_interval": stored.commit_interval_s,
            "queue_size": stored.queue_size,
        }
    if args.data_dir is not None:
        settings = dataclasses.replace(settings, data_dir=Path(args.data_dir))
    if args.allow_anonymous:
        settings = dataclasses.replace(settings, allow_anonymous=True)
    if args.durable_ack:
        settings = dataclasses.replace(settings, durable_ack=True)
    if args.response_information is not None:
        settings = dataclasses.replace(settings, response_information=args.response_information)
    if args.host is not None or args.port is not None:
        first = settings.listeners[0]
        first = dataclasses.replace(
            first,
            host=args.host if args.host is not None else first.host,
            port=args.port if args.port is not None else first.port,
        )
        settings = dataclasses.replace(settings, listeners=(first, *settings.listeners[1:]))
    authenticator = authorizer = None
    reload_security: Callable[[], object] | None = None
    if settings.password_file is not None or settings.acl_file is not None:
        from gateway.broker.auth import build_security

        try:
            security = build_security(settings)
        except Exception as exc:  # the auth package's file errors: say which file, refuse to start
            raise StartupError(
                f"broker security files: {exc}", hint="check password_file and acl_file"
            ) from None
        authenticator, authorizer = security.authenticator, security.authorizer
        reload_security = security.files.reload  # SIGHUP re-reads the password and ACL files
    persistence = None
    if settings.data_dir is not None:
        from gateway.broker.persistence import SqlitePersistence

        persistence = SqlitePersistence(settings.data_dir, **store_options)
    broker = Broker(settings, authenticator=authenticator, authorizer=authorizer, persistence=persistence)
    return broker, reload_security


def run(args: argparse.Namespace) -> int:
    import asyncio
    import os
    import signal

    from gateway.broker.runner import run_standalone

    # While the loop runs, run_standalone's loop handler takes over and stops the broker cleanly; outside
    # it, SIGTERM still ends the process without a traceback instead of killing it mid-flush.
    signal.signal(signal.SIGTERM, _on_sigterm)
    broker, reload_security = build_broker(args)
    runner = asyncio.run
    # uvloop when installed (the 'fast' extra); EDGE_GATEWAY_NO_UVLOOP=1 forces the standard loop.
    if not os.environ.get("EDGE_GATEWAY_NO_UVLOOP"):
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            pass
    try:
        runner(run_standalone(broker, reload_security))
    except _TerminatedError:
        return 0
    return 0
