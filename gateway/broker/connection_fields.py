"""The attributes every part of :class:`~gateway.broker.connection.Connection` may use.

``Connection`` is assembled from mixins, one per concern (CONNECT, inbound PUBLISH, output). Each mixin
inherits this class so that mypy knows the connection's fields and the methods another mixin provides;
the declarations exist only for the type checker, and ``Connection`` itself declares the ``__slots__``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.broker.codec.packets import Connect
    from gateway.broker.codec.stream import FrameReader
    from gateway.broker.codes import ReasonCode
    from gateway.broker.connection_state import State
    from gateway.broker.core import BrokerCore
    from gateway.broker.errors import ProtocolError
    from gateway.broker.hooks import AuthRequest
    from gateway.broker.message import Message
    from gateway.broker.session import Session


class ConnectionFields:
    """Declarations shared by the connection mixins (type checking only)."""

    # No __slots__ here: mypy cannot check slot assignments across mixins; Connection declares them all.

    if TYPE_CHECKING:
        _core: BrokerCore
        _out: list[bytes]
        _out_size: int
        _alias_in: dict[int, str]
        _alias_out: dict[str, int]
        _buffered: bytearray
        _connect: Connect | None
        _clean_start: bool
        _reader: FrameReader
        on_output: Callable[[], None]
        congested: bool
        session: Session | None
        version: int
        client_id: str
        client_topic_alias_max: int
        client_max_packet: int
        send_window: int
        request_problem_info: bool
        state: State
        pending_auth: AuthRequest | None
        peer_host: str
        peer_port: int
        peer_cert_cn: str | None
        listener: str
        use_identity_as_username: bool
        keepalive_limit: float
        will: Message | None
        will_delay: int
        close_requested: bool

        def _write(self, data: bytes) -> None: ...

        def _close(self, reason: ReasonCode | None = None, reason_string: str | None = None) -> None: ...

        def _process(self, data: bytes, now: float) -> None: ...

        def _fail(self, exc: ProtocolError) -> None: ...
