"""Lazy, untyped access to asyncua: importing it costs ~0.3 s, and its ``ua`` namespace is built
dynamically (mypy cannot see most of its attributes), so the driver treats it as ``Any``."""

from __future__ import annotations

from typing import Any


def ua() -> Any:
    from asyncua import ua as module

    return module


def client_class() -> Any:
    from asyncua.client.client import Client

    return Client
