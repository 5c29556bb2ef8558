"""``edge-gateway sniff``: watch Sparkplug traffic on any broker, decoded, with rule violations flagged.

Subscribes to ``spBv1.0/#`` (or ``spBv1.0/<group>/#`` plus the STATE topics with ``--group``) and the 2.2
``STATE/#``, and prints every message: a readable block, or one JSON object per line with ``--json``.
The checks (seq gaps, data before birth, unknown alias, metric not in birth, bdSeq mismatch) live in
:class:`sparkplug.sniffer.SparkplugSniffer`; this module is only the paho-mqtt shell around it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from gateway.errors import UserFacingError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sniff",
        help="print Sparkplug B traffic on a broker, decoded, flagging rule violations",
        description="Subscribe to Sparkplug B traffic on an MQTT broker and print every message decoded. "
        "Violations visible from outside are flagged: seq gaps, data before birth, unknown aliases, "
        "metrics not in the birth, bdSeq mismatch between NBIRTH and NDEATH.",
    )
    parser.add_argument("--host", required=True, help="broker host name or address")
    parser.add_argument("--port", type=int, default=None, help="broker port (default 1883, or 8883 with TLS)")
    parser.add_argument("--tls", action="store_true", help="connect with TLS (implied by --cafile/--cert)")
    parser.add_argument(
        "--cafile", help="CA certificate(s) to verify the broker (PEM); default: system store"
    )
    parser.add_argument("--cert", help="client certificate (PEM) for mutual TLS")
    parser.add_argument("--key", help="private key of --cert (PEM)")
    parser.add_argument("--username", help="MQTT user name")
    parser.add_argument(
        "--password",
        help="MQTT password (or set EDGE_GATEWAY_SNIFF_PASSWORD to keep it out of the process list)",
    )
    parser.add_argument("--group", help="only this Sparkplug group (STATE messages are always shown)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line instead of text blocks")
    parser.add_argument(
        "--count", type=int, default=0, help="exit after this many messages (default: run until ^C)"
    )
    parser.add_argument(
        "--client-id", default=None, help="MQTT client id (default: edge-gateway-sniff-<pid>)"
    )
    parser.set_defaults(func=run)


def topic_filters(group: str | None) -> list[str]:
    if group is None:
        return ["spBv1.0/#", "STATE/#"]
    from sparkplug.topics import validate_id

    try:
        validate_id(group, "--group")
    except ValueError as exc:
        raise UserFacingError(str(exc), hint="a Sparkplug group id has no + / # characters") from None
    return [f"spBv1.0/{group}/#", "spBv1.0/STATE/#", "STATE/#"]


def run(args: argparse.Namespace) -> int:
    import ssl

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from sparkplug.sniffer import SparkplugSniffer
    from sparkplug.sniffer_format import to_json, to_text

    filters = topic_filters(args.group)
    use_tls = bool(args.tls or args.cafile or args.cert)
    port = args.port if args.port is not None else (8883 if use_tls else 1883)
    if args.key and not args.cert:
        raise UserFacingError("--key needs --cert", hint="give the client certificate with --cert")
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=args.client_id or f"edge-gateway-sniff-{os.getpid()}",
        protocol=mqtt.MQTTv311,
        clean_session=True,
    )
    if use_tls:
        try:
            client.tls_set(ca_certs=args.cafile, certfile=args.cert, keyfile=args.key)
        except (OSError, ssl.SSLError) as exc:
            raise UserFacingError(
                f"cannot load TLS files (cafile={args.cafile}, cert={args.cert}, key={args.key}): {exc}",
                hint="check the paths and that the files are PEM",
            ) from None
    password = args.password or os.environ.get("EDGE_GATEWAY_SNIFF_PASSWORD")
    if args.username is not None or password:
        client.username_pw_set(args.username, password)

    sniffer = SparkplugSniffer()
    seen = 0
    failure: list[str] = []

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            failure.append(f"broker {args.host}:{port} refused the connection: {reason_code}")
            client.disconnect()
            return
        client.subscribe([(topic, 1) for topic in filters])

    def on_subscribe(client: mqtt.Client, userdata: Any, mid: int, codes: list[Any], properties: Any) -> None:
        refused = [topic for topic, code in zip(filters, codes, strict=False) if code.is_failure]
        if refused:
            failure.append(f"broker refused the subscriptions {refused} (ACL?)")
            client.disconnect()
            return
        print(f"sniff: subscribed to {', '.join(filters)} on {args.host}:{port}", file=sys.stderr, flush=True)

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        nonlocal seen
        sniffed = sniffer.observe(message.topic, bytes(message.payload), int(time.time() * 1000))
        if args.json:
            print(json.dumps(to_json(sniffed), ensure_ascii=False), flush=True)
        else:
            print(to_text(sniffed) + "\n", flush=True)
        seen += 1
        if args.count and seen >= args.count:
            client.disconnect()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    try:
        client.connect(args.host, port, keepalive=30)
    except (OSError, ssl.SSLError) as exc:
        raise UserFacingError(
            f"cannot connect to the broker at {args.host}:{port}: {exc}",
            hint="check --host/--port, and --tls/--cafile if the broker uses TLS",
        ) from None
    try:
        client.loop_forever()
    except (OSError, ssl.SSLError) as exc:
        raise UserFacingError(f"connection to {args.host}:{port} failed: {exc}") from None
    if failure:
        raise UserFacingError(failure[0], hint="check --username/--password and the broker's ACL")
    return 0
