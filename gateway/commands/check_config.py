"""``edge-gateway check-config FILE``: validate a configuration file and report every problem.

Exit status 0 when the file is valid, 2 when it has problems (each printed as ``file:line: key:
reason`` on stderr). ``--show-effective`` prints every effective value with where it came from
(``file:line``, ``default``, ``env:NAME``, ``file:PATH``); secrets are shown as ``***``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


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
    identity = config.identity
    tags = sum(len(device.tags) for device in config.devices)
    print(
        f"{args.file}: valid: group {identity.group_id!r}, edge node {identity.edge_node_id!r}, "
        f"{len(config.devices)} device(s), {tags} tag(s), {len(config.upstream.servers)} upstream server(s)",
        file=sys.stdout,
    )
    return 0
