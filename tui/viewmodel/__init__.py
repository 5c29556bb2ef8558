"""The view-model: pure functions and state that turn control-plane messages into what screens show.

No Textual and no I/O here; time is passed in (UTC ms) so every age is testable and snapshots are
deterministic.
"""
