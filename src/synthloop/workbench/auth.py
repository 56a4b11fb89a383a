"""Passwords (argon2id), signed session cookies and CSRF tokens.

- Passwords are stored only as argon2id hashes (argon2-cffi's defaults: 64 MiB, 3 passes), re-hashed
  on login when the parameters change; a login for an unknown user still runs one hash, so the
  response time does not say which user names exist.
- The session cookie is a signed, timestamped value (itsdangerous) holding a random session id and
  the user name; it expires after :data:`SESSION_SECONDS`, is ``HttpOnly`` and ``SameSite=Strict``,
  and ``Secure`` when the app sits behind a TLS-terminating proxy. Logging in issues a new id
  (no session fixation).
- A CSRF token is an HMAC of the session id under the app's key: every form carries it and every
  write compares it in constant time. ``SameSite=Strict`` alone would leave older browsers open.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Any

from synthloop.errors import ConfigError, require
from synthloop.workbench.roles import ROLES
from synthloop.workbench.state import State

SESSION_COOKIE = "synthloop_session"
SESSION_SECONDS = 12 * 3600
MIN_PASSWORD = 10
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")


def _hasher():
    return require("argon2", "workbench", "Workbench passwords").PasswordHasher()


def secret_key(folder: Path) -> bytes:
    """The app's signing key, made once (owner-only file) so sessions survive a restart."""
    path = folder / "secret.key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def add_user(state: State, name: str, password: str, roles: list[str]) -> None:
    """Add a user with ``roles`` (from :data:`ROLES`); refuses weak passwords and odd names."""
    problems = []
    if not name or set(name) - _NAME_CHARS or len(name) > 64:
        problems.append("user names are 1–64 characters of a-z, 0-9, '.', '_' and '-'")
    if len(password) < MIN_PASSWORD:
        problems.append(f"passwords need at least {MIN_PASSWORD} characters")
    unknown = sorted(set(roles) - set(ROLES))
    if unknown or not roles:
        problems.append(f"roles must be one or more of {', '.join(ROLES)} (got {', '.join(roles) or 'none'})")
    if state.user(name) is not None:
        problems.append(f"a user '{name}' already exists")
    if problems:
        raise ConfigError("Cannot add the user: " + "; ".join(problems) + ".")
    state.add_user(name, _hasher().hash(password), list(roles))


def check_password(state: State, name: str, password: str) -> dict[str, Any] | None:
    """The user when the password matches, else None (same work either way)."""
    argon2 = require("argon2", "workbench", "Workbench passwords")
    hasher = argon2.PasswordHasher()
    user = state.user(name)
    stored = user["password_hash"] if user is not None else _DUMMY.get()
    try:
        hasher.verify(stored, password)
    except (argon2.exceptions.VerifyMismatchError, argon2.exceptions.InvalidHashError,
            argon2.exceptions.VerificationError):
        return None
    if user is None:
        return None
    if hasher.check_needs_rehash(stored):
        state.set_password(name, hasher.hash(password))
    return user


class _Dummy:
    """A hash to verify against for unknown users (made once, lazily)."""

    value: str | None = None

    def get(self) -> str:
        if self.value is None:
            self.value = _hasher().hash(secrets.token_hex(16))
        return self.value


_DUMMY = _Dummy()


class Sessions:
    """Sign and read session cookies; derive and check CSRF tokens."""

    def __init__(self, key: bytes):
        itsdangerous = require("itsdangerous", "workbench", "Workbench sessions")
        self._key = key
        self._serializer = itsdangerous.URLSafeTimedSerializer(key, salt="synthloop-session")
        self._bad = itsdangerous.BadData

    def new(self, user: str | None = None) -> tuple[str, dict[str, Any]]:
        session = {"sid": secrets.token_urlsafe(24), "user": user}
        return self._serializer.dumps(session), session

    def read(self, cookie: str | None) -> dict[str, Any] | None:
        if not cookie:
            return None
        try:
            found = self._serializer.loads(cookie, max_age=SESSION_SECONDS)
        except self._bad:
            return None
        return found if isinstance(found, dict) and isinstance(found.get("sid"), str) else None

    def csrf(self, session: dict[str, Any]) -> str:
        return hmac.new(self._key, b"csrf:" + session["sid"].encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: dict[str, Any] | None, token: object) -> bool:
        return session is not None and isinstance(token, str) and hmac.compare_digest(self.csrf(session), token)
