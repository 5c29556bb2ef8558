"""Hypothesis properties of the security parsers and of the ACL's subscription rule."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.broker.auth import Access, AclFileError, PasswordFileError, parse_acl
from gateway.broker.auth import topic_patterns as tp
from gateway.broker.auth.acl import AclPolicy, AclRule
from gateway.broker.auth.password_file import PasswordFile
from tests.broker.security.test_topic_patterns import UNIVERSE, filters

HERE = Path("fuzz")


@settings(max_examples=300)
@given(
    st.text(alphabet=st.sampled_from(list("ab:$\n\r# =+/0123456789scryptpbkdf2-sha512lnrpi,")), max_size=200)
)
def test_any_password_file_text_loads_or_raises_our_error(text: str) -> None:
    try:
        database = PasswordFile.parse(HERE, text).database()
    except PasswordFileError as exc:
        assert exc.problems and all(p.startswith("fuzz:") for p in exc.problems)
        return
    for user, stored in database.users.items():
        assert user and stored.digest and stored.salt  # never a user without a password hash


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_any_acl_text_parses_or_raises_our_error(text: str) -> None:
    try:
        parse_acl(text, HERE)
    except AclFileError as exc:
        assert exc.problems


PATTERN_LEVELS = st.sampled_from(["a", "b", "$SYS", "", "+"])


@st.composite
def rules(draw: st.DrawFn) -> AclRule:
    levels = [draw(PATTERN_LEVELS) for _ in range(draw(st.integers(1, 3)))]
    if draw(st.booleans()):
        levels.append("#")
    return AclRule(
        allow=draw(st.booleans()),
        accesses=frozenset({Access.SUBSCRIBE}),
        pattern="/".join(levels),
        origin="generated",
    )


@settings(max_examples=500)
@given(st.lists(rules(), max_size=5), filters())
def test_a_granted_subscription_only_reaches_topics_the_acl_grants(
    generated: list[AclRule], sub: tp.Levels
) -> None:
    """Catalogue T21: a filter is granted only if every topic it can match is allowed and none denied."""
    client = AclPolicy(everyone=tuple(generated)).for_client("u", "c")
    if not client.allows(Access.SUBSCRIBE, "/".join(sub)):
        return
    for topic in UNIVERSE:
        if not tp.matches(sub, topic):
            continue
        matching = [r for r in generated if tp.matches(tp.split(r.pattern), topic)]
        assert any(r.allow for r in matching), (
            f"{'/'.join(sub)} reaches {'/'.join(topic)}, which no rule allows"
        )
        assert not any(not r.allow for r in matching), f"{'/'.join(sub)} reaches the denied {'/'.join(topic)}"
