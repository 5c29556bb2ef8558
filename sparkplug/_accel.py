"""The optional compiled codec fast path (``sparkplug._speedups``, built from ``_speedups.c``).

    c_decode(data) -> Payload | None      None: not a common shape (or not bytes); use the upb path
    c_encode(payload, include_datatype, uint32_in_long_value) -> bytes | None   likewise
    ACTIVE                                True when the two functions above are the compiled ones

The extension is optional (setup.py marks it so): without a C compiler the package installs pure
Python, and ``c_decode``/``c_encode`` are None. Setting ``SPARKPLUG_NO_SPEEDUPS`` to anything but ""
or "0" in the environment disables it too (tests and ``benchmarks/sparkplug_codec.py`` use that to
measure the pure path). The upb path in :mod:`sparkplug._decode` / :mod:`sparkplug._encode` stays the
reference: the compiled one must give the same result or None (tests/sparkplug/test_speedups*.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType

# Imported for its import-time check, which pins the Metric field order the C code relies on.
from sparkplug import _metric_factory  # noqa: F401
from sparkplug.datatypes import DataType
from sparkplug.model import Metric, Payload

__all__ = ["ACTIVE", "c_decode", "c_encode", "load"]

DISABLE_VARIABLE = "SPARKPLUG_NO_SPEEDUPS"
# Must equal API_VERSION in _speedups.c: an in-place build older than its source is not used.
API_VERSION = 1


def load() -> ModuleType | None:
    """The configured extension module, or None when it is not built or disabled by the environment."""
    if os.environ.get(DISABLE_VARIABLE, "") not in ("", "0"):
        return None
    try:
        from sparkplug import _speedups
    except ImportError:  # not built: no compiler at install time; the upb path serves alone
        return None
    if getattr(_speedups, "API_VERSION", None) != API_VERSION:
        return None  # stale build (the source changed since): rebuild with scripts/setup
    _speedups.configure(Metric, Payload, DataType)
    return _speedups


_module = load()
c_decode: Callable[[bytes], Payload | None] | None = None if _module is None else _module.decode
c_encode: Callable[[Payload, bool, bool], bytes | None] | None = None if _module is None else _module.encode
ACTIVE = _module is not None
