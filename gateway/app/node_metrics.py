"""The edge node's own metrics (NBIRTH/NDATA): uptime, active server, store and error figures.

Reported by exception like any metric (the core's RBE), sampled every few seconds by the daemon.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from drivers import utc_ms
from sparkplug import DataType, MetricSpec, Sample

if TYPE_CHECKING:
    from gateway.app.daemon import Daemon

UPTIME = "Gateway/Uptime"
ACTIVE_SERVER = "Gateway/Active Server"
STORE_DEPTH = "Store/Depth"
STORE_OLDEST_AGE = "Store/Oldest Age"
STORE_DROPPED = "Store/Dropped"
DRIVER_ERRORS = "Devices/Read Errors"


class NodeMetrics:
    """Declares the node metrics and samples them from a running daemon."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self.specs = (
            MetricSpec(UPTIME, DataType.Int64),
            MetricSpec(ACTIVE_SERVER, DataType.String),
            MetricSpec(STORE_DEPTH, DataType.Int64),
            MetricSpec(STORE_OLDEST_AGE, DataType.Double),
            MetricSpec(STORE_DROPPED, DataType.Int64),
            MetricSpec(DRIVER_ERRORS, DataType.Int64),
        )

    def samples(self, daemon: Daemon) -> tuple[Sample, ...]:
        now = utc_ms()
        depth = dropped = 0
        if daemon.message_store is not None:
            status = daemon.message_store.status()
            depth, dropped = status.messages, sum(status.dropped.values())
        server = ""
        if daemon.uplink is not None:
            server = daemon.uplink.status().server or ""
        errors = sum(host.status().errors for host in daemon.devices.values())
        oldest = daemon.oldest_stored_ms
        age = 0.0 if oldest is None else max(0.0, (now - oldest) / 1000)
        return (
            Sample(UPTIME, int(time.monotonic() - self._started), now),
            Sample(ACTIVE_SERVER, server, now),
            Sample(STORE_DEPTH, depth, now),
            Sample(STORE_OLDEST_AGE, age, now),
            Sample(STORE_DROPPED, dropped, now),
            Sample(DRIVER_ERRORS, errors, now),
        )
