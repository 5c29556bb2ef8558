"""The wiring of the daemon: configuration -> broker, drivers, Sparkplug edge node, uplink, control plane.

- :mod:`.convert`: configuration sections -> the settings types of each part (pure functions).
- :mod:`.devices`: runs one driver per configured device, keeps the live tag table and device health.
- :mod:`.observed_session`: the uplink's Sparkplug session (``gateway.uplink.SparkplugSession``, the
  shell around the ``sparkplug`` core) plus what the control plane shows (STATE as seen, rebirth).
- :mod:`.sparkplug_relay`: copies of the Sparkplug traffic with upstream servers on the embedded broker
  (``$GW/v1/sparkplug/...``) for the terminal UI's traffic screen, while watched and rate-limited.
- :mod:`.broker_view`: the embedded broker's clients (with subscription filters) and retained messages
  for the control plane's broker status.
- :mod:`.local_bus`: the embedded broker as the uplink bridge's local bus.
- :mod:`.internal_auth`: credentials for the daemon's own client of the embedded broker.
- :mod:`.control_publisher` / :mod:`.control_commands`: the control plane (``$GW/v1``).
- :mod:`.daemon`: :class:`Daemon`, start / reload / stop, and ``run_daemon`` with signal handling.
- :mod:`.demo`: the built-in demo (simulators + a generated configuration).
"""
