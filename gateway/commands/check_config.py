"""``edge-gateway check-config FILE``: validate a configuration file and report every problem.

Exit status 0 when the file is valid, 2 when it has problems (each printed as ``file:line: key:
reason`` on stderr). ``--show-effective`` prints every effective value with where it came from
(``file:line``, ``default``, ``env:NAME``, ``file:PATH``); secrets are shown as ``***``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.config import GatewayConfig


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check-config",
        help="validate a configuration file and list every problem",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("file", type=Path, help="the YAML configuration file")
    parser.add_argument(
        "--show-effective",
        action="store_true",
        help="print every effective value and where it came from (secrets masked)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gateway.config import load_config

    loaded = load_config(args.file)  # ConfigError is printed by the CLI, exit status 2
    config = loaded.config
    if args.show_effective:
        width = max((len(origin.key_path) for origin in loaded.origins), default=0)
        for origin in loaded.origins:
            print(f"{origin.key_path:<{width}}  {origin.value}  ({origin.origin})")
    for warning in _warnings(config):
        print(f"warning: {warning}", file=sys.stderr)
    identity = config.identity
    tags = sum(len(device.tags) for device in config.devices)
    print(
        f"{args.file}: valid: group {identity.group_id!r}, edge node {identity.edge_node_id!r}, "
        f"{len(config.devices)} device(s), {tags} tag(s), {len(config.upstream.servers)} upstream server(s)",
        file=sys.stdout,
    )
    return 0


def _warnings(config: GatewayConfig) -> list[str]:
    """Valid but worth a second look (printed, exit status stays 0)."""
    warnings = []
    broker = config.broker
    if broker.enabled and broker.acl_file is None:
        warnings.append(
            "broker.acl_file is not set: every client that can log in may send control-plane commands "
            "(write tags, fail over, apply configurations); give technicians the admin role in an ACL file"
        )
    if (
        broker.enabled
        and broker.allow_anonymous
        and any(lst.host not in ("127.0.0.1", "::1", "localhost") for lst in broker.listeners)
    ):
        warnings.append("broker.allow_anonymous is true on a listener reachable from the network")
    if broker.enabled and broker.limits.max_connections_per_source > broker.limits.max_connections:
        warnings.append(
            "broker.limits.max_connections_per_source is above max_connections: the per-address cap "
            "never applies"
        )
    if broker.enabled and not broker.persistence.enabled:
        warnings.append(
            "broker.persistence.enabled is false: retained messages and persistent sessions are lost "
            "on every restart"
        )
    return warnings
