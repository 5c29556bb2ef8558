"""Authentication and authorisation of the embedded broker.

Public surface:

- :func:`build_security` -- the broker's :class:`~gateway.broker.hooks.Authenticator` and
  :class:`~gateway.broker.hooks.Authorizer` from :class:`~gateway.broker.settings.BrokerSettings`;
- :class:`PasswordAuthenticator`, :class:`AclAuthorizer`, :class:`SecurityFiles` (reload);
- the file formats: :mod:`.password_file` (+ :mod:`.hashing`) and :mod:`.acl_file`;
- :class:`Access`, :class:`AclPolicy`, :class:`ClientAcl` and :data:`ADMIN_ROLE` for the control plane.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.broker.auth.acl import ADMIN_ROLE, Access, AclDecision, AclPolicy, AclRule, ClientAcl
from gateway.broker.auth.acl_file import load_acl_file, parse_acl
from gateway.broker.auth.authenticator import PasswordAuthenticator
from gateway.broker.auth.authorizer import AclAuthorizer
from gateway.broker.auth.errors import AclFileError, PasswordFileError, PasswordHashError, SecurityFileError
from gateway.broker.auth.password_file import PasswordDatabase, PasswordFile, load_password_file
from gateway.broker.auth.security_files import ReloadOutcome, SecurityFiles, SecuritySnapshot
from gateway.broker.settings import BrokerSettings


@dataclass(frozen=True, slots=True)
class Security:
    """The hooks to give the broker, and the files object to reload them."""

    authenticator: PasswordAuthenticator
    authorizer: AclAuthorizer | None
    """``None`` when no ACL file is configured: every authenticated client may do everything."""
    files: SecurityFiles


def build_security(settings: BrokerSettings) -> Security:
    """Load the password and ACL files named in ``settings``.

    Raises:
        PasswordFileError, AclFileError: a file cannot be used (the broker must not start).
    """
    files = SecurityFiles(password_file=settings.password_file, acl_file=settings.acl_file)
    files.load()
    authorizer = AclAuthorizer(files) if settings.acl_file is not None else None
    return Security(PasswordAuthenticator(files, allow_anonymous=settings.allow_anonymous), authorizer, files)


__all__ = [
    "ADMIN_ROLE",
    "Access",
    "AclAuthorizer",
    "AclDecision",
    "AclFileError",
    "AclPolicy",
    "AclRule",
    "ClientAcl",
    "PasswordAuthenticator",
    "PasswordDatabase",
    "PasswordFile",
    "PasswordFileError",
    "PasswordHashError",
    "ReloadOutcome",
    "Security",
    "SecurityFileError",
    "SecurityFiles",
    "SecuritySnapshot",
    "build_security",
    "load_acl_file",
    "load_password_file",
    "parse_acl",
]
