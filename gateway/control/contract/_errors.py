"""Errors raised by the control-plane contract when a message does not fit it.

    ContractError                 (ValueError) a topic or payload does not fit the contract
     +-- SchemaMismatchError      the peer speaks another schema version: upgrade one side
     +-- MalformedMessageError    not JSON, wrong shape, wrong type; carries the JSON path
     +-- UnknownTopicError        a topic under the root that the contract does not define

Every message names what was found and what was expected, so a TUI can show it as is.
"""

from __future__ import annotations


class ContractError(ValueError):
    """A topic or payload does not fit the control-plane contract."""


class SchemaMismatchError(ContractError):
    """The message carries a schema version this side does not speak.

    Attributes:
        found: the version in the message (``None`` when the field is missing).
        expected: the version this side speaks.
    """

    def __init__(self, found: object, expected: int) -> None:
        self.found = found
        self.expected = expected
        if found is None:
            text = f"message has no 'schema' field; this side speaks control-plane schema v{expected}"
        else:
            text = (
                f"the peer speaks control-plane schema v{found}, this side speaks v{expected}: "
                "upgrade the daemon or the client so both speak the same version"
            )
        super().__init__(text)


class MalformedMessageError(ContractError):
    """The payload is not JSON or does not have the expected shape.

    Attributes:
        path: where in the JSON document the problem is (``$.data.servers[1].port``).
        problem: what was found and what was expected.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class UnknownTopicError(ContractError):
    """A topic that is not part of the contract."""
