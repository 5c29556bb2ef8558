"""Reloading the configuration of a running daemon (SIGHUP, or the control plane).

The file is validated in full first: an invalid file changes nothing and the result lists every
problem. A valid file applies device and tag changes without touching the upstream connection
(removed devices: DDEATH; changed ones: DDEATH, then a DBIRTH with their new metrics once they answer;
new ones: a DBIRTH once they answer). Changes of identity, broker, upstream, store, data_dir or control
keep their running values until a restart; the result names them.

The embedded broker's password and ACL files are re-read too (as mosquitto does on SIGHUP), after a
valid configuration: both files or neither (``SecurityFiles.reload``); an invalid one keeps the previous
users and ACL in force and makes the result not ok, naming the file, line and reason. Connected clients
are checked against a changed ACL from their next action (catalogue T21/T22).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

import drivers
from gateway.config import ConfigError, load_config
from gateway.control import contract as c
from gateway.errors import StartupError

if TYPE_CHECKING:
    from gateway.app.daemon import Daemon

log = logging.getLogger(__name__)

RESTART_SECTIONS = ("identity", "broker", "upstream", "store", "data_dir", "control")


async def reload_from_file(daemon: Daemon, source: str) -> c.ReloadResult:
    """Reload ``daemon``'s configuration file; ``source`` says what asked ("sighup", "command")."""
    now = drivers.utc_ms()
    path = daemon.loaded.path
    if path is None:
        return c.ReloadResult(now, False, source, "the built-in demo has no configuration file to reload")
    try:
        loaded = load_config(path)
    except ConfigError as exc:
        problems = tuple(p.render() for p in exc.problems)
        log.error(
            "reload refused, keeping the running configuration: %s", problems[0] if problems else exc.message
        )
        return c.ReloadResult(
            now, False, source, f"invalid: {len(problems)} problem(s); nothing changed", problems
        )
    old, new = daemon.config, loaded.config
    restart = [name for name in RESTART_SECTIONS if getattr(old, name) != getattr(new, name)]
    old_devices = {d.id: d for d in old.devices}
    new_devices = {d.id: d for d in new.devices}
    changed = 0
    failed: list[str] = []
    for device_id in old_devices.keys() - new_devices.keys():
        host = daemon.devices.pop(device_id, None)
        if host is not None:
            await host.stop()
        changed += 1
    for device_id, device in new_devices.items():
        if old_devices.get(device_id) == device:
            continue
        host = daemon.devices.pop(device_id, None)
        if host is not None:
            await host.stop()
        try:
            await daemon.add_device(device)
        except StartupError as exc:  # a driver refused what the checks let through: keep going
            daemon.devices.pop(device_id, None)
            failed.append(f"{device_id}: {exc.message}")
            continue
        changed += 1
    daemon.loaded = loaded
    daemon.config = dataclasses.replace(new, **{name: getattr(old, name) for name in restart})
    message = f"applied: {changed} device(s) changed"
    if failed:
        message += f"; not started: {'; '.join(failed)}"
    if restart:
        message += f"; restart needed for: {', '.join(restart)}"
    security_ok, security_message, security_problems = _reload_security(daemon)
    if security_message is not None:
        message += f"; {security_message.splitlines()[0]}"
    log.info("reload (%s): %s", source, message)
    return c.ReloadResult(
        now,
        security_ok is not False,
        source,
        message,
        security_problems,
        security_reloaded=security_ok,
        security_message=security_message,
    )


def _reload_security(daemon: Daemon) -> tuple[bool | None, str | None, tuple[str, ...]]:
    """Re-read the broker's password and ACL files: (reloaded?, one line, problem lines)."""
    security = daemon.security
    if security is None:
        return None, None, ()
    files = security.files
    outcome = files.reload()  # logs the error itself when it keeps the old rules
    if outcome.ok:
        names = [str(p) for p in (files.password_file, files.acl_file) if p is not None]
        return True, f"security files reloaded ({', '.join(names)})", ()
    error = outcome.error or "invalid"
    problems = tuple(line.strip() for line in error.splitlines()[1:] if line.strip()) or (error,)
    return (
        False,
        f"security files NOT reloaded, the previous users and ACL stay in force: {error.splitlines()[0]}",
        problems,
    )
