"""Read YAML into plain values plus the line of every key, so each problem can name its line.

PyYAML's ``compose`` gives a node tree whose marks carry line numbers; we walk it ourselves instead of
calling ``safe_load`` so that (a) every key path gets the line where it is written, (b) duplicate keys
(which YAML silently lets the last one win) become problems, and (c) only the safe scalar types are
built (no Python object tags).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml


@dataclass(slots=True)
class Document:
    """A parsed document.

    Attributes:
        data: the plain value (dicts, lists, scalars), or ``None`` for an empty file.
        lines: key path -> 1-based line where that key (or list item) is written.
        problems: (line, key path, message) for duplicate keys and non-string keys.
    """

    data: Any
    lines: dict[str, int] = field(default_factory=dict)
    problems: list[tuple[int | None, str, str]] = field(default_factory=list)


class YamlSyntaxError(ValueError):
    """The text is not valid YAML.

    Attributes:
        line: 1-based line of the error when PyYAML reports one.
        detail: PyYAML's description of the problem.
    """

    def __init__(self, line: int | None, detail: str) -> None:
        self.line = line
        self.detail = detail
        super().__init__(detail)


def child_path(parent: str, key: str | int) -> str:
    """``devices`` + 0 -> ``devices[0]``; ``devices[0]`` + ``tags`` -> ``devices[0].tags``."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def parse(text: str) -> Document:
    """Parse ``text`` (one YAML document).

    Raises:
        YamlSyntaxError: the text is not YAML, or holds more than one document.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = " ".join(part for part in (exc.context, exc.problem) if part)
        raise YamlSyntaxError(None if mark is None else mark.line + 1, f"invalid YAML: {detail}") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(None, f"invalid YAML: {exc}") from None
    document = Document(None)
    if node is not None:
        document.data = _walk(node, "", document, yaml.SafeLoader(""))
    return document


def _walk(node: yaml.Node, path: str, document: Document, constructor: yaml.SafeLoader) -> Any:
    if isinstance(node, yaml.MappingNode):
        explicit = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
        constructor.flatten_mapping(node)  # resolves YAML merge keys (<<: *anchor): merged pairs come first
        merged = len(node.value) - explicit
        result: dict[str, Any] = {}
        from_merge: set[str] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            line = key_node.start_mark.line + 1
            key = constructor.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                document.problems.append(
                    (line, path, f"key {key!r} is a {type(key).__name__}, expected a name")
                )
                continue
            sub = child_path(path, key)
            if index < merged:
                if key in result:
                    continue  # the first merged mapping wins among merged ones (YAML merge rules)
                from_merge.add(key)
            elif key in from_merge:
                from_merge.discard(key)  # an explicit key overrides a merged one
            elif key in result:
                first = document.lines.get(sub)
                document.problems.append((line, sub, f"duplicate key (first given on line {first})"))
                continue
            document.lines[sub] = line
            result[key] = _walk(value_node, sub, document, constructor)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            sub = child_path(path, index)
            document.lines[sub] = item.start_mark.line + 1
            items.append(_walk(item, sub, document, constructor))
        return items
    return constructor.construct_object(node, deep=True)
