"""The OPC UA part of benchmarks/drivers.py: the latency run with its per-stage probe, and the CPU
cost per notification of each pipeline stage (see the docstring of benchmarks/drivers.py)."""

from __future__ import annotations

import gc
import time
from array import array
from types import SimpleNamespace
from typing import Any

import psutil

from drivers import Quality
from drivers.opcua import OpcUaDriver, OpcUaServer, OpcUaTag
from drivers.simulators import bench_variables

SIM_UPDATE_INTERVAL = 0.1  # `edge-gateway simulate opcua` writes every variable this often, s


def cpu_seconds() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class PublishProbe:
    """Stamps every Publish response the asyncua client receives, for the latency breakdown.

    Wraps ``UaSession._send_request`` (the time the response's bytes arrived, before decoding) and
    ``UaSession.publish`` (the time it was decoded) in this process only, and keeps each response's
    bytes; they are decoded again and the stage figures computed after the run, so measuring costs
    nothing per notification while it runs. Keeping the decoded responses instead (100 of them,
    ten seconds' worth, are ~400,000 GC-tracked objects) made a full garbage-collector pass in the
    measured process 212 ms instead of 40 ms (measured at load 5). asyncua 2.1 keeps one Publish
    request outstanding, so one arrival slot is enough.
    """

    def __init__(self) -> None:
        self.responses: list[tuple[bytes, float, float]] = []  # (PublishResponse bytes, arrived, decoded)
        self._arrived = 0.0
        self._raw = b""
        self._saved: tuple[Any, Any] | None = None

    def install(self) -> None:
        from asyncua import ua
        from asyncua.client.ua_session import UaSession

        send, publish = UaSession._send_request, UaSession.publish
        self._saved = (send, publish)
        probe = self

        async def send_request(session: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            data = await send(session, request, *args, **kwargs)
            if isinstance(request, ua.PublishRequest):
                probe._arrived = time.time()
                probe._raw = bytes(data)
            return data

        async def publish_(session: Any, acks: Any) -> Any:
            response = await publish(session, acks)
            probe.responses.append((probe._raw, probe._arrived, time.time()))
            return response

        UaSession._send_request = send_request  # type: ignore[method-assign,assignment]
        UaSession.publish = publish_  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        from asyncua.client.ua_session import UaSession

        if self._saved is not None:
            UaSession._send_request, UaSession.publish = self._saved  # type: ignore[method-assign]

    def stages(self, names: dict[int, str], left: dict[tuple[str, int], float]) -> dict[str, list[float]]:
        """Per GOOD sample (matched by tag and source timestamp to the response that carried it), in
        ms: ``total`` source timestamp -> sample left the driver; ``wait_for_publish`` source
        timestamp -> the server's PublishTime (the notification waited in the server's queue for
        the publishing cycle); ``server_to_client`` PublishTime -> the response's bytes arrived
        (server encode, loopback, client read); ``decode`` asyncua decoding the response;
        ``deliver`` decoded -> the sample left the driver (our callback path and the sample queue);
        ``pipeline`` PublishTime -> left the driver (everything but the interval wait)."""
        from asyncua import ua
        from asyncua.common.utils import Buffer
        from asyncua.ua.ua_binary import struct_from_binary

        from drivers.opcua._values import to_ms

        out: dict[str, list[float]] = {
            k: [] for k in ("total", "wait_for_publish", "server_to_client", "decode", "deliver", "pipeline")
        }
        for raw, arrived, decoded in self.responses:
            response = struct_from_binary(ua.PublishResponse, Buffer(raw))
            message = response.Parameters.NotificationMessage
            published = float(to_ms(message.PublishTime) or 0)
            for notification in message.NotificationData or []:
                for item in getattr(notification, "MonitoredItems", None) or []:
                    source = to_ms(item.Value.SourceTimestamp)
                    gone = left.get((names.get(item.ClientHandle, ""), source or 0))
                    if source is None or gone is None:
                        continue
                    out["total"].append(gone - source)
                    out["wait_for_publish"].append(published - source)
                    out["server_to_client"].append(arrived * 1000 - published)
                    out["decode"].append((decoded - arrived) * 1000)
                    out["deliver"].append(gone - decoded * 1000)
                    out["pipeline"].append(gone - published)
        return out


async def opcua_run(
    endpoint: str,
    items: int,
    seconds: float,
    sampling: float,
    publishing: float | None,
    sim_pid: int,
    *,
    gc_freeze: bool = False,
) -> dict[str, Any]:
    """``items`` monitored Double items sampled every ``sampling`` s; ``publishing`` None = the
    driver's default (the fastest sampling interval). ``sim_pid``: the simulator, for its CPU.
    ``gc_freeze``: once connected, move everything alive to the garbage collector's permanent
    generation (``gc.freeze()``, as the gateway daemon, ``gateway/app/main.py``, and ``tui/app.py`` do
    after start-up), so its full passes no longer walk asyncua's ~50,000 start-up objects; undone at the
    end."""
    sim = psutil.Process(sim_pid)
    tags = tuple(
        OpcUaTag(v.tag_name, node_id=v.node_id(2), sampling_interval=sampling) for v in bench_variables(items)
    )
    server = OpcUaServer(
        "bench",
        endpoint,
        tags=tags,
        publishing_interval=publishing,
        request_timeout=10.0,
        watchdog_interval=2.0,
    )
    probe = PublishProbe()
    probe.install()
    driver = OpcUaDriver("bench", server, queue_size=100_000)
    try:
        await driver.start()
        await driver.wait_connected(30)
        if gc_freeze:
            gc.collect()
            gc.freeze()
        # what left the driver, in arrays of numbers: nothing the garbage collector has to walk
        # accumulates in the measured process (a dict of 50,000 tuples made its full passes slow)
        index = {t.name: i for i, t in enumerate(tags)}
        left_tag, left_source, left_at = array("l"), array("q"), array("d")
        changes = 0
        sim_start = sim.cpu_times()
        warm = time.monotonic() + 2.0
        start = start_cpu = None
        deadline = warm + seconds
        async for batch in driver.samples():
            now = time.monotonic()
            if start is None:
                if now < warm:
                    probe.responses.clear()
                    continue
                start, start_cpu, changes = now, cpu_seconds(), 0
                sim_start = sim.cpu_times()
            gone_ms = time.time() * 1000
            for s in batch:
                if s.quality is Quality.GOOD:
                    changes += 1
                    left_tag.append(index[s.tag])
                    left_source.append(s.timestamp_ms)
                    left_at.append(gone_ms)
            if now >= deadline:
                break
        assert start is not None and start_cpu is not None
        elapsed = time.monotonic() - start
        cpu = (cpu_seconds() - start_cpu) / elapsed * 100
        sim_end = sim.cpu_times()
        sim_cpu = (sim_end.user + sim_end.system - sim_start.user - sim_start.system) / elapsed * 100
        granted = driver.publishing_interval_granted
        await driver.stop()
    finally:
        probe.uninstall()
        if gc_freeze:
            gc.unfreeze()
    left = {(tags[i].name, ts): at for i, ts, at in zip(left_tag, left_source, left_at, strict=True)}
    stages = probe.stages({h: t.name for h, t in driver._handles.items()}, left)
    rate = changes / elapsed
    p99 = percentile(stages["total"], 0.99)
    return {
        "items": items,
        "seconds": round(elapsed, 2),
        "sampling_interval_s": sampling,
        "publishing_interval_s": server.effective_publishing_interval(),
        "publishing_interval_source": "driver default" if publishing is None else "set",
        "publishing_interval_granted_s": granted,
        "gc_freeze": gc_freeze,
        "server_changes_per_s_expected": round(items / SIM_UPDATE_INTERVAL),
        "data_changes_per_s": round(rate),
        "cpu_percent_one_core": round(cpu, 1),
        "cpu_percent_per_1000_changes_s": round(cpu / (rate / 1000), 2) if rate else None,
        "simulator_cpu_percent_one_core": round(sim_cpu, 1),
        "latency_samples": len(stages["total"]),
        "latency_p50_ms": round(percentile(stages["total"], 0.5), 1),
        "latency_p99_ms": round(p99, 1),
        # what the goal counts: the p99 minus the sampling interval (a change may wait that long
        # to be sampled); signed, not clamped
        "latency_p99_beyond_sampling_interval_ms": round(p99 - sampling * 1000, 1),
        "stages_p50_p99_ms": {
            k: [round(percentile(v, 0.5), 1), round(percentile(v, 0.99), 1)]
            for k, v in stages.items()
            if k != "total"
        },
        "errors": driver.health().errors,
        "dropped": driver.health().samples_dropped + driver.notifications_dropped,
    }


async def pipeline_cpu(items: int, repeats: int = 20) -> dict[str, Any]:
    """CPU time per publish response of ``items`` Double notifications, stage by stage, without a
    network or a second process (time.process_time, so other load on the machine changes it
    little): the server encoding the PublishResponse, asyncua decoding it, and handing it to
    samples leaving the driver, ours (``BatchSubscription`` + one conversion pass) against the
    reference of asyncua's iterator mode with one queue item per notification (what the driver
    did before, same run). These bound the pipeline stages of ``opcua_latency`` from below."""
    import datetime as dt

    from asyncua import ua
    from asyncua.common.subscription import Subscription, SubscriptionItemData
    from asyncua.common.utils import Buffer
    from asyncua.ua.ua_binary import struct_from_binary, struct_to_binary

    from drivers.opcua._subscription import _batch_class
    from drivers.opcua._values import sample_from

    tags = tuple(OpcUaTag(v.tag_name, node_id=v.node_id(2)) for v in bench_variables(items))
    driver = OpcUaDriver("bench", OpcUaServer("bench", "opc.tcp://127.0.0.1:4840/", tags=tags), queue_size=10)
    now = dt.datetime.now(dt.UTC)
    notifications = [
        ua.MonitoredItemNotification(
            ClientHandle=handle,
            Value=ua.DataValue(
                ua.Variant(float(i), ua.VariantType.Double), SourceTimestamp=now, ServerTimestamp=now
            ),
        )
        for i, handle in enumerate(driver._handles)
    ]
    response = ua.PublishResponse()
    response.Parameters.NotificationMessage.NotificationData = [ua.DataChangeNotification(notifications)]
    wire = struct_to_binary(response)
    params = ua.CreateSubscriptionParameters()
    # asyncua's Subscription reports to its session's observer; no session exists offline
    session = SimpleNamespace(observer=SimpleNamespace(on_notification=lambda *a: None))
    reference = Subscription(session, params, None, queue_maxsize=100_000)  # type: ignore[arg-type]
    for handle in driver._handles:
        data = SubscriptionItemData()
        data.node, data.client_handle = object(), handle  # type: ignore[assignment]
        reference._monitored_items[handle] = data
    ours = _batch_class()(session, params)

    def timed(run: Any) -> float:
        started = time.process_time()
        for _ in range(repeats):
            run()
        return (time.process_time() - started) / repeats * 1000

    async def deliver_ours() -> None:
        await ours.publish_callback(response.Parameters)
        driver._emit_notifications(ours._event_queue.get_nowait())
        driver._queue.get_nowait()

    async def deliver_reference() -> None:  # the driver's former consume loop
        await reference.publish_callback(response.Parameters)
        queue, batch = reference._event_queue, []
        while not queue.empty():
            event = queue.get_nowait()
            monitored = event.data.monitored_item
            batch.append(sample_from(driver._handles[monitored.ClientHandle], "bench", monitored.Value))
        driver._emit(batch)
        driver._queue.get_nowait()

    async def timed_async(run: Any) -> float:
        started = time.process_time()
        for _ in range(repeats):
            await run()
        return (time.process_time() - started) / repeats * 1000

    encode = timed(lambda: struct_to_binary(response))
    decode = timed(lambda: struct_from_binary(ua.PublishResponse, Buffer(wire)))
    ours_ms = await timed_async(deliver_ours)
    reference_ms = await timed_async(deliver_reference)
    return {
        "notifications_per_response": items,
        "response_bytes": len(wire),
        "cpu_ms_per_response": {
            "server_encode": round(encode, 2),
            "client_decode": round(decode, 2),
            "deliver": round(ours_ms, 2),
            "deliver_reference_asyncua_iterator": round(reference_ms, 2),
        },
        "deliver_ratio_to_reference": round(ours_ms / reference_ms, 2) if reference_ms else None,
    }
