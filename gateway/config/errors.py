"""Errors of the configuration loader.

    UserFacingError (gateway.errors)
     +-- ConfigError            the file has one or more problems; ``problems`` lists every one

A :class:`ConfigProblem` says where (``file:line`` or the key path), which key, and what was found
and expected; ``ConfigError.render()`` prints one problem per line, ``file:line: key: reason``
(reliability catalogue T58).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import UserFacingError


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in a configuration.

    Attributes:
        file: the file (or ``<text>`` for text given directly), never ``None``.
        line: 1-based line of the offending value or key, or ``None`` when it is not in the file
            (a missing key: then the line of its parent mapping when known).
        key_path: where in the document (``devices[0].tags[2].address``); ``""`` for the whole file.
        message: what was found and what was expected.
    """

    file: str
    line: int | None
    key_path: str
    message: str

    @property
    def location(self) -> str:
        """``file:line`` when the line is known, else ``file``."""
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def render(self) -> str:
        """``file:line: key: reason`` (the key part is left out for whole-file problems)."""
        key = f" {self.key_path}:" if self.key_path else ""
        return f"{self.location}:{key} {self.message}"


class ConfigError(UserFacingError):
    """A configuration has problems; nothing of it was applied.

    Attributes:
        problems: every problem found, in file order.
    """

    def __init__(self, problems: list[ConfigProblem] | tuple[ConfigProblem, ...]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: (p.file, p.line or 0, p.key_path)))
        count = len(self.problems)
        super().__init__(
            f"the configuration has {count} problem{'s' if count != 1 else ''}",
            hint="fix them and run `edge-gateway check-config FILE` again",
            exit_code=2,
        )

    def render(self) -> str:
        lines = [problem.render() for problem in self.problems]
        lines.append(f"error: {self.message}")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)
