"""``edge-gateway passwd FILE USER``: add, change or delete a user of the broker's password file.

    edge-gateway passwd FILE USER                   prompt twice for the password (no echo)
    edge-gateway passwd --password-stdin FILE USER  read the password from the first line of stdin
    edge-gateway passwd -D FILE USER                delete the user

The file is created with mode 0600 when missing and rewritten atomically (temporary file + rename), keeping
comments and the order of the other users. The command refuses to touch a file that every user of the
machine can read, and a file with lines it does not understand (it would otherwise drop them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "passwd",
        help="add, change or delete a user of the broker's password file",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, help="the password file (created 0600 if missing)")
    parser.add_argument("user", help="the user name")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-D", "--delete", action="store_true", help="delete the user")
    group.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin"
    )
    parser.set_defaults(func=run)


def run(args: Any) -> int:
    import getpass
    import os
    import stat

    from gateway.broker.auth.hashing import hash_password
    from gateway.broker.auth.password_file import PasswordFile, check_user_name
    from gateway.errors import UserFacingError

    path: Path = args.file
    user: str = args.user
    reason = check_user_name(user)
    if reason is not None:
        raise UserFacingError(f"{user!r} cannot be a user name: {reason}")
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise UserFacingError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    if mode is not None and stat.S_ISDIR(mode):
        raise UserFacingError(f"{path} is a directory; give the path of the password file")
    if mode is not None and mode & stat.S_IROTH:
        raise UserFacingError(
            f"{path} is readable by every user of this machine (mode {stat.S_IMODE(mode):04o}); "
            "refusing to store password hashes in it",
            hint=f"chmod 600 {path}",
        )
    password_file = PasswordFile.load(path) if mode is not None else PasswordFile(path, [], {})

    if args.delete:
        if not password_file.delete(user):
            raise UserFacingError(f"user {user!r} is not in {path}; nothing deleted")
        password_file.save()
        print(f"deleted user {user!r} from {path}", file=sys.stderr)
        return 0

    if args.password_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password.removesuffix("\r")
    else:
        password = getpass.getpass(f"Password for {user}: ")
        if getpass.getpass("Again: ") != password:
            raise UserFacingError("the two passwords differ; nothing changed")
    if not password:
        raise UserFacingError("empty password refused; nothing changed")
    existed = user in password_file.users()
    password_file.set(user, hash_password(password))
    password_file.save()
    if not existed:
        os.chmod(path, 0o600)
    print(f"{'changed password of' if existed else 'added'} user {user!r} in {path}", file=sys.stderr)
    return 0
