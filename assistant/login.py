"""Who may log in to the app and its HTTP API: from ASSISTANT_AUTH or a file only its owner can read.

Never from a command-line flag: every user of the machine can read a process's arguments (`ps`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import stat
from pathlib import Path

from assistant.errors import AssistantError

Login = tuple[str, str]
FLAG_REFUSED = (
    "--auth is refused: a password on the command line is visible to every user of the machine in `ps` and "
    "in shell history; set ASSISTANT_AUTH=user:password or put user:password lines in a file only you can read "
    "(chmod 600 FILE) and pass --auth-file FILE"
)


def parse_auth(auth: str | None) -> Login | None:
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not (sep and user and password):
        msg = "ASSISTANT_AUTH / --auth-file lines must look like user:password (both parts non-empty)"  # never echo a password
        raise AssistantError(msg)
    return user, password


def read_auth_file(path: Path) -> list[Login]:
    """user:password lines (blank lines and # comments skipped); the file must be readable by its owner only."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        msg = f"cannot read the login file {path}: {error.strerror}"
        raise AssistantError(msg) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        msg = f"the login file {path} can be read by other users (mode {stat.filemode(mode)}): run `chmod 600 {path}`"
        raise AssistantError(msg)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    logins = []
    for number, line in enumerate(lines, 1):
        try:
            logins.append(parse_auth(line))
        except AssistantError:
            msg = f"{path}: login {number} must look like user:password (both parts non-empty)"
            raise AssistantError(msg) from None
    if not logins:
        raise AssistantError(f"the login file {path} holds no user:password line")
    return [login for login in logins if login]


def logins(auth: str | None, auth_file: Path | None) -> list[Login] | None:
    """Every allowed login, or None when the app runs without a login."""
    found = [*filter(None, [parse_auth(auth)]), *(read_auth_file(auth_file) if auth_file else [])]
    return found or None


def basic_user(header: str | None, allowed: list[Login]) -> str | None:
    """The user an `Authorization: Basic …` header proves, or None (passwords compared in constant time)."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    given = (user.encode(), password.encode())
    ok = [hmac.compare_digest(u.encode(), given[0]) & hmac.compare_digest(p.encode(), given[1]) for u, p in allowed]
    return user if any(ok) else None
