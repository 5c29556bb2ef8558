"""One Tahu JS process shared by the interoperability tests of a worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.interop.tahu_node import TahuNode, TahuUnavailableError


@pytest.fixture(scope="module")
def tahu() -> Iterator[TahuNode]:
    try:
        node = TahuNode()
    except TahuUnavailableError as exc:
        pytest.fail(f"the interop tests need Eclipse Tahu JS through Node.js: {exc}")
    with node:
        yield node
