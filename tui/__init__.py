"""The technician's terminal UI (Textual). Talks to the daemon only through the control plane.

Entry point for other commands (``edge-gateway tui``, ``edge-gateway demo``)::

    from tui import TuiSettings, run_tui
    run_tui(TuiSettings(host="127.0.0.1", port=1883, read_only=False))
"""

from tui.settings import TuiSettings


def run_tui(settings: TuiSettings) -> None:
    """Run the UI until the person quits; imports Textual only when called."""
    from tui.app import run_tui as _run

    _run(settings)


__all__ = ["TuiSettings", "run_tui"]
