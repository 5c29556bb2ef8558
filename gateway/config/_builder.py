"""Build the typed configuration from plain YAML values, collecting every problem instead of stopping.

The builder walks a dataclass type (its type hints, with :data:`typing.Annotated` constraints from
:mod:`gateway.config._types`) and the parsed document side by side:

- unknown keys are problems (with a "did you mean" when a known key is close);
- missing keys take the field default, or are a problem when the field has none;
- values of the wrong type, outside their range, or not among an enum's values are problems;
- ``Path`` values are resolved against the configuration file's directory;
- a ``password: Secret | None`` field is read from exactly one of ``password``, ``password_env`` or
  ``password_file`` (see :class:`~gateway.config._types.Secret`);
- a field typed as a union of dataclasses picks the member whose ``PROTOCOLS`` class attribute
  holds the mapping's ``protocol`` value.

Every leaf value's origin is recorded (``file:line``, ``default``, ``env:NAME``, ``file:PATH``) for
``check-config --show-effective``. The builder reads environment variables and secret files but
never anything else; it returns problems rather than raising.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import types
import typing
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

from gateway.config._types import Pattern, Range, Secret
from gateway.config._yaml import Document, child_path

_SECRET_KEYS = ("password", "password_env", "password_file")
_MISSING = object()


@dataclasses.dataclass(frozen=True, slots=True)
class Origin:
    """Where one effective value came from.

    Attributes:
        key_path: the key path.
        value: the value as text (secrets masked).
        origin: ``file:line``, ``default``, ``env:NAME`` or ``file:PATH``.
    """

    key_path: str
    value: str
    origin: str


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    # get_type_hints evaluates every string annotation on each call: with 5,000 tags that was most of
    # the load time of a large plant file (py-spy, benchmarks/gateway.py). Classes do not change.
    return typing.get_type_hints(cls, include_extras=True)


@functools.cache
def _fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(cls)}


class Builder:
    """One build of one document; read :attr:`problems` and :attr:`origins` afterwards.

    Args:
        document: the parsed YAML.
        file_label: how the file is named in origins and problems.
        base_dir: relative paths are resolved against it.
        environ: environment variables for ``password_env``.
    """

    def __init__(
        self, document: Document, file_label: str, base_dir: Path, environ: Mapping[str, str]
    ) -> None:
        self._doc = document
        self._file = file_label
        self._base = base_dir
        self._env = environ
        self.problems: list[tuple[int | None, str, str]] = list(document.problems)
        self.origins: list[Origin] = []
        self._unsound: set[int] = set()
        self._keep: list[object] = []  # keeps unsound sections alive so their ids stay unique

    def line(self, path: str) -> int | None:
        """The line of ``path``, or of its nearest ancestor written in the file."""
        while path:
            if path in self._doc.lines:
                return self._doc.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return None

    def problem(self, path: str, message: str) -> None:
        self.problems.append((self.line(path), path, message))

    def _origin_of(self, path: str) -> str:
        line = self._doc.lines.get(path)
        return f"{self._file}:{line}" if line is not None else "default"

    def build(self, cls: type) -> Any:
        """Build ``cls`` from the whole document (an empty file counts as an empty mapping)."""
        data = {} if self._doc.data is None else self._doc.data
        return self._value(cls, data, "", _MISSING)

    # ---- one value ---------------------------------------------------------------------------------

    def _value(self, tp: Any, data: Any, path: str, default: Any) -> Any:
        constraints: tuple[Any, ...] = ()
        if typing.get_origin(tp) is typing.Annotated:
            tp, *rest = typing.get_args(tp)
            constraints = tuple(rest)
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            return self._union(tp, data, path, constraints)
        if origin is tuple:
            if not isinstance(data, list):
                return self._wrong(path, data, "a list")
            return tuple(
                self._value(typing.get_args(tp)[0], item, child_path(path, i), _MISSING)
                for i, item in enumerate(data)
            )
        if origin in (Mapping, dict):
            if not isinstance(data, dict):
                return self._wrong(path, data, "a mapping")
            value_type = typing.get_args(tp)[1]
            return types.MappingProxyType(
                {
                    key: self._value(value_type, item, child_path(path, key), _MISSING)
                    for key, item in data.items()
                }
            )
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            return self._dataclass(tp, data, path)
        value = self._scalar(tp, data, path)
        if value is not None:
            for constraint in constraints:
                self._check(constraint, value, path)
            self.origins.append(Origin(path, _show(value), self._origin_of(path)))
        return value

    def _scalar(self, tp: Any, data: Any, path: str) -> Any:
        if isinstance(tp, type) and issubclass(tp, Enum):
            allowed = [member.value for member in tp]
            if data in allowed and not isinstance(data, bool):
                return tp(data)
            return self._wrong(path, data, "one of " + ", ".join(repr(v) for v in allowed))
        if tp is bool:
            return data if isinstance(data, bool) else self._wrong(path, data, "true or false")
        if tp is int:
            if isinstance(data, int) and not isinstance(data, bool):
                return data
            return self._wrong(path, data, "a whole number")
        if tp is float:
            if isinstance(data, int | float) and not isinstance(data, bool):
                return float(data)
            return self._wrong(path, data, "a number")
        if tp is str:
            # YAML turns unquoted 40001 into an int and 1.0 into a float; a string field takes them as text.
            if isinstance(data, str):
                return data
            if isinstance(data, int | float) and not isinstance(data, bool):
                return str(data)
            return self._wrong(path, data, "a string")
        if tp is Path:
            if not isinstance(data, str) or not data:
                return self._wrong(path, data, "a file or directory path")
            candidate = Path(data).expanduser()
            return candidate if candidate.is_absolute() else self._base / candidate
        raise TypeError(f"the configuration model uses an unsupported type {tp!r} at {path}")

    def _union(self, tp: Any, data: Any, path: str, constraints: tuple[Any, ...]) -> Any:
        members = [m for m in typing.get_args(tp) if m is not type(None)]
        if data is None:
            if len(members) < len(typing.get_args(tp)):
                return None
            return self._wrong(path, data, "a value")
        classes = [m for m in members if isinstance(m, type) and dataclasses.is_dataclass(m)]
        if len(classes) > 1 and len(classes) == len(members):
            return self._tagged(classes, data, path)
        if len(members) == 1:
            return self._value(
                typing.Annotated[members[0], *constraints] if constraints else members[0],
                data,
                path,
                _MISSING,
            )
        for member in members:  # scalar unions such as str | int: the first that fits exactly
            if _fits(member, data):
                return self._value(member, data, path, _MISSING)
        names = " or ".join(_describe(m) for m in members)
        return self._wrong(path, data, names)

    def _tagged(self, classes: list[type], data: Any, path: str) -> Any:
        if not isinstance(data, dict):
            return self._wrong(path, data, "a mapping")
        choices = {p: cls for cls in classes for p in getattr(cls, "PROTOCOLS", ())}
        protocol = data.get("protocol")
        if protocol not in choices:
            allowed = ", ".join(repr(p) for p in choices)
            where = child_path(path, "protocol") if "protocol" in data else path
            found = "missing" if protocol is None else repr(protocol)
            self.problem(where, f"protocol {found}, expected one of {allowed}")
            return None
        return self._dataclass(choices[protocol], data, path)

    def _dataclass(self, cls: type, data: Any, path: str) -> Any:
        if not isinstance(data, dict):
            return self._wrong(path, data, "a mapping")
        hints = _hints(cls)
        fields = _fields(cls)
        known = set(fields)
        if "password" in fields:
            known |= set(_SECRET_KEYS)
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = (
                    f"; did you mean {close[0]!r}?"
                    if close
                    else f"; expected one of {', '.join(sorted(known))}"
                )
                self.problem(child_path(path, key), f"unknown key{hint}")
        kwargs: dict[str, Any] = {}
        ok = True
        for name, f in fields.items():
            sub = child_path(path, name)
            if name == "password":
                kwargs[name] = self._secret(data, path)
                if kwargs[name] is None and any(key in data for key in _SECRET_KEYS):
                    ok = False
                continue
            if name not in data:
                if f.default is not dataclasses.MISSING:
                    kwargs[name] = f.default
                    self._record_default(sub, f.default)
                elif f.default_factory is not dataclasses.MISSING:
                    kwargs[name] = f.default_factory()
                    self._record_default(sub, kwargs[name])
                else:
                    self.problem(path, f"missing key {name!r} ({_describe(hints[name])})")
                    kwargs[name] = None
                    ok = False
                continue
            value = self._value(hints[name], data[name], sub, f.default)
            if value is None and data[name] is not None:
                ok = False
            kwargs[name] = value
        # A section with a bad field is still built (the bad field holds its default, or None) so
        # that the cross-field checks can look at the rest of the file and report everything at
        # once; it is marked unsound, the checks skip it, and the loader never returns it.
        if not ok:
            for name, f in fields.items():
                if kwargs.get(name) is None and f.default is not dataclasses.MISSING:
                    kwargs[name] = f.default
        partial = cls(**kwargs)
        if not ok:
            self._unsound.add(id(partial))
            self._keep.append(partial)
        return partial

    def is_sound(self, section: object) -> bool:
        """Whether ``section`` was built without a problem in its own fields (children aside)."""
        return section is not None and id(section) not in self._unsound

    def _record_default(self, path: str, value: Any) -> None:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):
                self._record_default(child_path(path, f.name), getattr(value, f.name))
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                self._record_default(child_path(path, index), item)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                self._record_default(child_path(path, key), item)
        elif isinstance(value, Secret):
            self.origins.append(Origin(path, "***", value.origin))
        else:
            self.origins.append(Origin(path, _show(value), "default"))

    def _secret(self, data: dict[str, Any], path: str) -> Secret | None:
        given = [key for key in _SECRET_KEYS if key in data]
        if not given:
            return None
        if len(given) > 1:
            self.problem(child_path(path, given[1]), f"give only one of {', '.join(given)}")
            return None
        key = given[0]
        sub = child_path(path, key)
        raw = data[key]
        if not isinstance(raw, str) or not raw:
            self._wrong(sub, raw, "a non-empty string")
            return None
        secret: Secret | None = None
        if key == "password":
            secret = Secret(raw, self._origin_of(sub))
        elif key == "password_env":
            if raw not in self._env:
                self.problem(sub, f"environment variable {raw} is not set")
                return None
            secret = Secret(self._env[raw], f"env:{raw}")
        else:
            file = Path(raw).expanduser()
            file = file if file.is_absolute() else self._base / file
            try:
                text = file.read_text(encoding="utf-8")
            except IsADirectoryError:
                self.problem(sub, f"{file} is a directory, expected a file holding the password")
                return None
            except OSError as exc:
                self.problem(sub, f"cannot read {file}: {exc.strerror or exc}")
                return None
            secret = Secret(text.removesuffix("\n"), f"file:{file}")
        self.origins.append(Origin(child_path(path, "password"), "***", secret.origin))
        return secret

    def _check(self, constraint: Any, value: Any, path: str) -> None:
        if isinstance(constraint, Range) and isinstance(value, int | float) and not isinstance(value, bool):
            expected = constraint.check(value)
            if expected is not None:
                self.problem(path, f"{value!r} is out of range, expected {expected}")
        elif isinstance(constraint, Pattern) and isinstance(value, str):
            expected = constraint.check(value)
            if expected is not None:
                self.problem(path, f"{value!r}, expected {expected}")

    def _wrong(self, path: str, data: Any, expected: str) -> None:
        self.problem(path, f"found {_found(data)}, expected {expected}")


def _fits(tp: Any, data: Any) -> bool:
    if typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if tp is bool:
        return isinstance(data, bool)
    if tp is int:
        return isinstance(data, int) and not isinstance(data, bool)
    if tp is float:
        return isinstance(data, int | float) and not isinstance(data, bool)
    if tp is str or tp is Path:
        return isinstance(data, str)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return data in [m.value for m in tp]
    return False


def _describe(tp: Any) -> str:
    if typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(m) for m in typing.get_args(tp) if m is not type(None))
    if origin is tuple:
        return "a list"
    if origin in (Mapping, dict) or (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
        return "a mapping"
    if isinstance(tp, type) and issubclass(tp, Enum):
        return "one of " + ", ".join(repr(m.value) for m in tp)
    return {
        bool: "true or false",
        int: "a whole number",
        float: "a number",
        str: "a string",
        Path: "a path",
    }.get(tp, str(tp))


def _found(data: Any) -> str:
    if data is None:
        return "nothing (null)"
    if isinstance(data, dict):
        return "a mapping"
    if isinstance(data, list):
        return "a list"
    if isinstance(data, bool):
        return f"{str(data).lower()} (a boolean)"
    if isinstance(data, str):
        return f"{data!r} (a string)"
    return f"{data!r} (a {type(data).__name__})"


def _show(value: Any) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    return str(value)


def environ() -> Mapping[str, str]:
    """The process environment (a seam: tests pass their own mapping instead)."""
    return os.environ
