"""Staff credentials, sessions and CSRF tokens. There is no default password.

Credentials are `user:salt:hash` lines (hex salt, hex scrypt hash), made with `make_hash_line` (or
`ldnqa staff-hash`). They come from the file named by LDNQA_STAFF_FILE and/or from
LDNQA_STAFF_PASSWORD_HASHES (lines separated by newlines, spaces or commas). With neither, staff access
is disabled. Sessions are HMAC-signed cookies; the signing key comes from LDNQA_SESSION_SECRET or is
made once and kept in `<data_dir>/session_secret` (mode 600).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES = 2**14, 8, 1, 32
USER_RE = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
LINE_RE = re.compile(r"([A-Za-z0-9_.@-]{1,64}):([0-9a-f]{32,128}):([0-9a-f]{64})")
MIN_PASSWORD = 10
SESSION_SECONDS = 8 * 3600
MAX_TRACKED = 10_000  # client addresses the login throttle remembers
DISABLED_MESSAGE = ("Staff access is disabled: set LDNQA_STAFF_FILE to a file of user:salt:hash lines "
                    "(make one with `ldnqa staff-hash USER`) or set LDNQA_STAFF_PASSWORD_HASHES, "
                    "then restart the server.")


def _scrypt(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                          dklen=HASH_BYTES, maxmem=64 * 2**20)


def make_hash_line(user: str, password: str) -> str:
    """A `user:salt:hash` credentials line for `password` (salted scrypt). Raises ValueError."""
    if not USER_RE.fullmatch(user):
        raise ValueError("user names are 1-64 letters, digits, '.', '_', '@' or '-'")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")
    salt = secrets.token_bytes(16)
    return f"{user}:{salt.hex()}:{_scrypt(password, salt).hex()}"


def parse_hash_lines(text: str, origin: str) -> dict[str, tuple[bytes, bytes]]:
    """user -> (salt, hash) from credentials text; `#` comments and blank lines are ignored."""
    users: dict[str, tuple[bytes, bytes]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        for entry in re.split(r"[\s,]+", line.split("#", 1)[0].strip()):
            if not entry:
                continue
            match = LINE_RE.fullmatch(entry)
            if not match:
                raise ValueError(f"{origin} line {number}: expected user:salt:hash "
                                 "(make one with `ldnqa staff-hash USER`)")
            users[match[1]] = (bytes.fromhex(match[2]), bytes.fromhex(match[3]))
    return users


@dataclass
class StaffConfig:
    """Who may log in. `problem` says why staff access is disabled (None when enabled)."""

    users: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)
    problem: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.users) and self.problem is None

    @classmethod
    def from_lines(cls, *lines: str) -> "StaffConfig":
        return cls(users=parse_hash_lines("\n".join(lines), "credentials"))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "StaffConfig":
        """Read LDNQA_STAFF_FILE and LDNQA_STAFF_PASSWORD_HASHES; never raises."""
        env = os.environ if env is None else env
        users: dict[str, tuple[bytes, bytes]] = {}
        try:
            if env.get("LDNQA_STAFF_FILE"):
                path = Path(env["LDNQA_STAFF_FILE"])
                try:
                    text = path.read_text(encoding="utf-8")
                except OSError as exc:
                    raise ValueError(f"cannot read LDNQA_STAFF_FILE {path}: {exc.strerror}") from exc
                users.update(parse_hash_lines(text, str(path)))
            if env.get("LDNQA_STAFF_PASSWORD_HASHES"):
                users.update(parse_hash_lines(env["LDNQA_STAFF_PASSWORD_HASHES"],
                                              "LDNQA_STAFF_PASSWORD_HASHES"))
        except ValueError as exc:
            return cls(problem=f"Staff access is disabled: {exc}")
        return cls(users=users) if users else cls(problem=DISABLED_MESSAGE)

    def verify(self, user: str, password: str) -> bool:
        """True when `password` is right for `user`. Takes the same time for unknown users."""
        if not self.enabled or len(password) > 1024:
            return False
        salt, expected = self.users.get(user, (b"\0" * 16, b""))
        actual = _scrypt(password, salt)
        return bool(expected) and hmac.compare_digest(actual, expected)


def load_secret(data_dir: Path | str, env: Mapping[str, str] | None = None) -> bytes:
    """The session signing key: LDNQA_SESSION_SECRET, else `<data_dir>/session_secret` (made once)."""
    env = os.environ if env is None else env
    if env.get("LDNQA_SESSION_SECRET"):
        return env["LDNQA_SESSION_SECRET"].encode("utf-8")
    path = Path(data_dir) / "session_secret"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Signed session cookies (`payload.signature`), with logout by revoking the session's nonce."""

    def __init__(self, secret: bytes, lifetime: int = SESSION_SECONDS) -> None:
        self._key = hashlib.sha256(b"ldnqa-session\0" + secret).digest()
        self.lifetime = lifetime
        self._revoked: dict[str, float] = {}
        self._lock = threading.Lock()

    def _sign(self, data: str, purpose: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}\0{data}".encode(), hashlib.sha256).digest())

    def issue(self, user: str) -> str:
        payload = {"u": user, "exp": int(time.time()) + self.lifetime, "n": secrets.token_urlsafe(12)}
        data = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{data}.{self._sign(data, 'session')}"

    def _payload(self, cookie: str | None) -> dict[str, object] | None:
        if not cookie or len(cookie) > 512 or cookie.count(".") != 1:
            return None
        data, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign(data, "session")):
            return None
        try:
            payload = json.loads(_unb64(data))
        except ValueError:
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int):
            return None
        if payload["exp"] < time.time() or payload.get("n") in self._revoked:
            return None
        return payload

    def user(self, cookie: str | None) -> str | None:
        """The user of a valid, unexpired, not logged-out session cookie, else None."""
        payload = self._payload(cookie)
        user = payload.get("u") if payload else None
        return user if isinstance(user, str) else None

    def revoke(self, cookie: str | None) -> None:
        payload = self._payload(cookie)
        if payload:
            with self._lock:
                now = time.time()
                self._revoked = {n: t for n, t in self._revoked.items() if t > now}
                self._revoked[str(payload["n"])] = float(payload["exp"])  # type: ignore[arg-type]

    def csrf_token(self, bound_to: str) -> str:
        """A token for forms, tied to a session cookie (or to the pre-login cookie)."""
        return self._sign(bound_to, "csrf")

    def check_csrf(self, bound_to: str | None, token: str | None) -> bool:
        return bool(bound_to and token) and hmac.compare_digest(self.csrf_token(bound_to or ""),
                                                                token or "")


class LoginThrottle:
    """At most `limit` failed logins per client in `window` seconds."""

    def __init__(self, limit: int = 5, window: float = 300.0) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str) -> list[float]:
        cutoff = time.monotonic() - self.window
        if len(self._failures) > MAX_TRACKED:  # many addresses: forget those with no recent failure
            self._failures = {k: v for k, v in self._failures.items() if v and v[-1] > cutoff}
        recent = [t for t in self._failures.get(key, []) if t > cutoff]
        if recent:
            self._failures[key] = recent
        else:
            self._failures.pop(key, None)
        return recent

    def blocked(self, key: str) -> bool:
        with self._lock:
            return len(self._recent(key)) >= self.limit

    def failed(self, key: str) -> None:
        with self._lock:
            self._failures[key] = [*self._recent(key), time.monotonic()]

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
