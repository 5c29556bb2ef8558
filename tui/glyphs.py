"""Whether the terminal can show more than ASCII, decided from the locale as POSIX programs do.

Over SSH to a headless gateway the locale is often ``C`` or unset (``LANG`` not forwarded); box
drawing and block characters then arrive as mojibake or question marks. The UI draws its borders
in ASCII (``+-|``) and hides the sparkline (block characters only) in that case.

    >>> terminal_is_utf8({"LANG": "en_GB.UTF-8"})
    True
    >>> terminal_is_utf8({"LC_ALL": "C", "LANG": "en_GB.UTF-8"})
    False
"""

from __future__ import annotations

from collections.abc import Mapping

_PRECEDENCE = ("LC_ALL", "LC_CTYPE", "LANG")  # POSIX: the first one set and non-empty wins

ASCII_CLASS = "-ascii"
"""The CSS class the app gets when the terminal is not UTF-8 (see ``GatewayTui.CSS``)."""


def terminal_is_utf8(environ: Mapping[str, str]) -> bool:
    """True when the effective character type locale is UTF-8; an unset locale is ``C`` (ASCII)."""
    for name in _PRECEDENCE:
        value = environ.get(name, "")
        if value:
            codeset = value.partition(".")[2].partition("@")[0].replace("-", "").lower()
            return codeset == "utf8"
    return False
