"""Every exception the :mod:`sparkplug` package raises.

    SparkplugError                  base class; catch this to catch everything below
     +-- SparkplugDecodeError       a peer sent bytes or a topic we cannot read (their fault)
     +-- SparkplugEncodeError       we were asked to encode something illegal, e.g. an Int8 of 300
     |                              (our fault; also a ValueError so plain callers can catch that)
     +-- TopicError                 a topic or an id breaks the namespace rules (§1, §2)
     |    +-- InvalidIdError        a group, edge-node, device or host id with + / # NUL or control chars
     +-- EdgeNodeUsageError         the edge-node core was driven out of order (e.g. births before CONNECT)

Decoding never raises anything else: arbitrary bytes either decode or raise
:class:`SparkplugDecodeError` (checked by a Hypothesis property). Messages say what was wrong, where
(metric name or alias, field) and what was expected.
"""

from __future__ import annotations


class SparkplugError(Exception):
    """Base class of every error raised by :mod:`sparkplug`."""


class SparkplugDecodeError(SparkplugError):
    """Bytes or a topic from a peer could not be decoded; the message says where and why."""


class SparkplugEncodeError(SparkplugError, ValueError):
    """A value cannot be encoded as asked (out of range, wrong Python type, bad array element)."""


class TopicError(SparkplugError, ValueError):
    """A Sparkplug topic does not follow the namespace (§2)."""


class InvalidIdError(TopicError):
    """A group, edge-node, device or host id is not allowed (§1)."""


class EdgeNodeUsageError(SparkplugError, RuntimeError):
    """The edge-node core was called out of order; this is a bug in the caller (the shell)."""
