"""The technician's terminal UI (Textual). Talks to the daemon only through the control plane.

Entry point for other commands (``edge-gateway tui``, ``edge-gateway demo``)::

    from tui import TuiSettings, run_tui
    run_tui(TuiSettings(host="127.0.0.1", port=1883, read_only=False))
"""

import os

from tui.settings import TuiSettings

_SCREEN_UPDATES_PER_S = "120"


def run_tui(settings: TuiSettings) -> None:
    """Run the UI until the person quits; imports Textual only when called.

    Textual repaints a changed screen at its next update tick (``TEXTUAL_FPS``, 60 by default, read
    when Textual is imported): a key waits up to one tick for its repaint. 120 ticks a second halved
    the idle key-to-repaint p99 in benchmarks/tui.py (three runs each, alternating: 46-48 ms against
    72-247 ms) without more CPU (24-30 % against 27-30 %): ticks only do work when something changed,
    which the 2 Hz redraw limit keeps rare. An explicit TEXTUAL_FPS wins.
    """
    os.environ.setdefault("TEXTUAL_FPS", _SCREEN_UPDATES_PER_S)
    from tui.app import run_tui as _run

    _run(settings)


__all__ = ["TuiSettings", "run_tui"]
