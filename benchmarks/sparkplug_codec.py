"""Sparkplug B codec speed: ours (sparkplug.codec) against Eclipse Tahu JS (npm sparkplug-payload 1.0.3).

Two payloads, encode and decode each, in metrics per second:
  ddata_50     a typical DDATA: 50 metrics of mixed types (Int32, Double, Boolean, String, Int64, Float,
               UInt16, DateTime), alias + timestamp + datatype + value, no names
  nbirth_1000  an NBIRTH of 1,000 metrics: name + alias + timestamp + datatype + value

Ours: typed model -> bytes (encode) and bytes -> typed model (decode), in this process, through the public
encode_payload/decode_payload. "path" says which implementation served them: "c" when the optional
compiled accelerator (sparkplug/_speedups.c) is built, "upb" when it is not or SPARKPLUG_NO_SPEEDUPS=1.
With --both (and the accelerator built), the upb path is measured too in the same interleaved loop:
"upb_metrics_per_s" and "upb_ratio".
Tahu JS: its encodePayload/decodePayload on the same payloads, timed inside one Node.js process after a
JIT warm-up (process start-up and the JSON pipe are not counted). Both sides count the CPU time of their
own process (Python process_time, Node process.cpuUsage), so other processes on a shared machine skew the
ratio less. Each figure is the best of --repeat runs of --seconds CPU seconds, the two implementations
interleaved. Prints one JSON line per figure with ratio = ours / Tahu (> 1 means we are faster).

Run from the repository root:
    .venv/bin/python benchmarks/sparkplug_codec.py [--seconds 1] [--repeat 5] [--both]
Needs Node.js and tests/interop/node_modules (scripts/setup --test).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sparkplug import DataType, Metric, Payload, _accel, decode_payload, encode_payload
from sparkplug._decode import decode_payload_upb
from sparkplug._encode import encode_payload_upb
from tests.interop.tahu_node import TahuNode, from_tahu, to_tahu

T0 = 1_700_000_000_000
MIX = (
    DataType.Int32,
    DataType.Double,
    DataType.Boolean,
    DataType.String,
    DataType.Int64,
    DataType.Float,
    DataType.UInt16,
    DataType.DateTime,
)


def _value(datatype: DataType, index: int) -> int | float | bool | str:
    values: dict[DataType, int | float | bool | str] = {
        DataType.Int32: -1000 * index - 7,
        DataType.Double: index * 1.5 + 0.25,
        DataType.Boolean: index % 2 == 0,
        DataType.String: f"value {index}",
        DataType.Int64: index * 1_000_000_007,
        DataType.Float: index * 0.25,
        DataType.UInt16: index % 65536,
        DataType.DateTime: T0 - index,
    }
    return values[datatype]


def build(count: int, birth: bool) -> Payload:
    metrics = []
    for index in range(count):
        datatype = MIX[index % len(MIX)]
        metrics.append(
            Metric(
                name=f"Line 1/Cell {index // 100}/Tag {index}" if birth else None,
                alias=index + 1,
                timestamp=T0 + index,
                datatype=datatype,
                value=_value(datatype, index),
            )
        )
    return Payload(timestamp=T0, metrics=tuple(metrics), seq=0 if birth else 17)


def rate(action: Callable[[], object], metrics: int, seconds: float) -> float:
    """Metrics per CPU second over at least ``seconds`` of CPU time of repeated ``action`` calls.

    CPU time (not wall time): the machine is shared, and being descheduled must not count as slowness.
    tahu_codec.js measures the same way (process.cpuUsage).
    """
    for _ in range(20):  # warm-up
        action()
    iterations = 0
    start = time.process_time()
    elapsed = 0.0
    while elapsed < seconds:
        for _ in range(10):
            action()
        iterations += 10
        elapsed = time.process_time() - start
    return iterations * metrics / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement (default 1)")
    parser.add_argument(
        "--repeat", type=int, default=5, help="measurements per figure, best kept (default 5)"
    )
    parser.add_argument(
        "--both", action="store_true", help="also measure the upb path when the C accelerator is built"
    )
    args = parser.parse_args()
    path = "c" if _accel.ACTIVE else "upb"
    both = args.both and _accel.ACTIVE
    node_version = subprocess.run(
        ["node", "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    with TahuNode() as tahu:
        for label, payload in (
            ("ddata_50", build(50, birth=False)),
            ("nbirth_1000", build(1000, birth=True)),
        ):
            data = encode_payload(payload)
            # Both implementations must agree on these payloads before their speed means anything.
            assert decode_payload(data) == payload, "our round trip differs"
            assert from_tahu(tahu.decode(data)) == payload, "Tahu JS reads our payload differently"
            assert decode_payload(tahu.encode(to_tahu(payload))) == payload, (
                "we read Tahu's payload differently"
            )
            count = len(payload.metrics)
            assert decode_payload_upb(data) == payload and encode_payload_upb(payload) == data
            # Interleave the implementations so that load from other processes hits them alike.
            ours = {"encode": 0.0, "decode": 0.0}
            theirs = {"encode": 0.0, "decode": 0.0}
            upb = {"encode": 0.0, "decode": 0.0}
            for _ in range(args.repeat):
                ours["encode"] = max(
                    ours["encode"], rate(partial(encode_payload, payload), count, args.seconds)
                )
                run = tahu.bench(to_tahu(payload), args.seconds)
                theirs["encode"] = max(theirs["encode"], run["encode_per_s"])
                theirs["decode"] = max(theirs["decode"], run["decode_per_s"])
                ours["decode"] = max(ours["decode"], rate(partial(decode_payload, data), count, args.seconds))
                if both:
                    upb["encode"] = max(
                        upb["encode"], rate(partial(encode_payload_upb, payload), count, args.seconds)
                    )
                    upb["decode"] = max(
                        upb["decode"], rate(partial(decode_payload_upb, data), count, args.seconds)
                    )
            for op in ("encode", "decode"):
                line = {
                    "benchmark": "sparkplug_codec",
                    "payload": label,
                    "op": op,
                    "path": path,
                    "metrics": count,
                    "bytes": len(data),
                    "ours_metrics_per_s": round(ours[op]),
                    "tahu_js_metrics_per_s": round(theirs[op]),
                    "ratio": round(ours[op] / theirs[op], 3),
                    "python": platform.python_version(),
                    "node": node_version,
                    "load_average": round(os.getloadavg()[0], 2),
                }
                if both:
                    line["upb_metrics_per_s"] = round(upb[op])
                    line["upb_ratio"] = round(upb[op] / theirs[op], 3)
                print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
