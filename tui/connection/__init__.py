"""Attaching to the daemon: the paho-mqtt client in its own thread, and command request/response.

Nothing here touches Textual: :class:`ControlClient` hands :mod:`tui.connection.events` values to a
thread-safe sink; the app turns them into messages with ``post_message``.
"""

from tui.connection.client import ControlClient
from tui.connection.commands import CommandChannel
from tui.connection.events import (
    LinkConnecting,
    LinkDown,
    LinkEvent,
    LinkUp,
    PublishRefused,
    Received,
)

__all__ = [
    "CommandChannel",
    "ControlClient",
    "LinkConnecting",
    "LinkDown",
    "LinkEvent",
    "LinkUp",
    "PublishRefused",
    "Received",
]
