"""The control plane: how the terminal UI (and any MQTT tool) watches and steers the daemon.

- :mod:`gateway.control.contract`: the versioned contract (topic names, message shapes, JSON codec).
  Pure data, no I/O, no imports of other daemon modules: the TUI imports it and nothing else of
  ``gateway``, so it can attach to a daemon on another machine.
- The daemon-side publisher and command handler live in the other modules of this package and are
  never imported by the TUI (import-linter contract "the TUI only knows the control-plane contract").

This ``__init__`` imports nothing on purpose: importing the contract must not pull in daemon code.
"""
