"""Staff and owner accounts: Argon2 password hashes, signed revocable tokens, sign-in backoff (no HTTP here).

Every way in can be taken back: a token carries its account's ``token_version`` (revoke, disable and a new
password bump it), and a browser session is also a ``staff_sessions`` row that logout and revoke end.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import math
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.db import StaffAccount, StaffSession, aware, utcnow
from core.language import Say

ROLES = ("owner", "staff")
API_TOKEN_DAYS = 90  # the longest an API token may live: a leaked one dies on its own
SESSION_HOURS = 12
FREE_TRIES = 5  # wrong passwords in a row before an account's sign-in waits
FIRST_LOCK_S = 30  # then the wait doubles with each further failure ...
LONGEST_LOCK_S = 15 * 60  # ... up to this: a lock delays the owner, it never shuts them out for good
_hasher = PasswordHasher()


class Refused(ValueError):
    """An account change the rules forbid, said in Chinese and English (the CLI prints the English)."""

    def __init__(self, said: Say) -> None:
        super().__init__(said.en)
        self.said = said


@dataclass(frozen=True)
class Principal:
    id: int
    name: str
    role: str


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def stand_in_hash() -> str:
    """A hash no password matches, verified for unknown or disabled names so they take as long as real ones."""
    return hash_password(secrets.token_urlsafe(32))


def valid_password(password: str) -> str:
    if len(password) < 8:
        raise Refused(Say("密码至少 8 个字符。", "password must be at least 8 characters"))
    return password


def valid_role(role: str) -> str:
    if role not in ROLES:
        raise Refused(Say("角色只能是店主或店员。", f"role must be one of {', '.join(ROLES)}"))
    return role


def valid_display_name(display_name: str | None) -> str | None:
    """What customers see ("店员 小王 已接入"): 1-32 characters, or None for the account name."""
    display_name = (display_name or "").strip() or None
    if display_name is not None and len(display_name) > 32:
        raise Refused(Say("称呼最多 32 个字符。", "a display name is at most 32 characters"))
    return display_name


def set_display_name(session: Session, account: StaffAccount, display_name: str | None) -> None:
    account.display_name = valid_display_name(display_name)
    session.flush()


def add_staff(session: Session, name: str, role: str, password: str, display_name: str | None = None) -> StaffAccount:
    valid_role(role)
    if not name or len(name) > 64:
        raise Refused(Say("用户名要 1 到 64 个字符。", "name must be 1-64 characters"))
    valid_password(password)
    if session.scalar(select(StaffAccount).where(StaffAccount.name == name)):
        raise Refused(Say(f"已经有叫 {name} 的账号了。", f"there is already an account named {name!r}"))
    account = StaffAccount(name=name, role=role, password_hash=hash_password(password),
                           display_name=valid_display_name(display_name))
    session.add(account)
    session.flush()
    return account


def named(session: Session, name: str) -> StaffAccount:
    account = session.scalar(select(StaffAccount).where(StaffAccount.name == name))
    if account is None:
        raise LookupError(f"no account named {name!r}")
    return account


def revoke(session: Session, account: StaffAccount) -> None:
    """End every token and browser session of ``account`` (it may sign in again)."""
    account.token_version += 1
    session.execute(update(StaffSession).where(StaffSession.account_id == account.id,
                                               StaffSession.ended_at.is_(None)).values(ended_at=utcnow()))
    session.flush()


def _keep_an_owner(session: Session, account: StaffAccount) -> None:
    """Refuse a change that would take away the shop's last active owner (nobody could manage accounts)."""
    if account.role == "owner" and account.active and session.scalar(
            select(func.count()).select_from(StaffAccount).where(
                StaffAccount.role == "owner", StaffAccount.active.is_(True), StaffAccount.id != account.id)) == 0:
        raise Refused(Say(f"{account.name} 是店里唯一在用的店主账号，请先添加另一个店主。",
                          f"{account.name!r} is the shop's only active owner; add another owner first"))


def disable(session: Session, account: StaffAccount) -> None:
    """No more sign-ins, and every token and session ends (enabling later does not bring them back)."""
    _keep_an_owner(session, account)
    account.active = False
    revoke(session, account)


def enable(session: Session, account: StaffAccount) -> None:
    account.active, account.failed_logins, account.locked_until = True, 0, None
    session.flush()


def set_password(session: Session, account: StaffAccount, password: str) -> None:
    """A new password ends the old sessions and tokens, and lifts any sign-in lock."""
    account.password_hash = hash_password(valid_password(password))
    account.failed_logins, account.locked_until = 0, None
    revoke(session, account)


def set_role(session: Session, account: StaffAccount, role: str) -> None:
    if valid_role(role) != account.role:
        _keep_an_owner(session, account)
        account.role = role
        revoke(session, account)  # tokens carry no role, but a demoted owner's open pages should not linger


def lock_seconds(failures: int) -> int:
    """How long sign-in waits after ``failures`` wrong passwords in a row (0 while tries are free)."""
    if failures < FREE_TRIES:
        return 0
    return min(LONGEST_LOCK_S, FIRST_LOCK_S * 2 ** min(failures - FREE_TRIES, 16))


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt, counted as a failure before the password is checked (parallel guesses cannot
    slip past the lock); ``password_hash`` is the stand-in for unknown names. A disabled account's own hash
    is checked (the same cost), so only someone with its password learns that it is disabled."""

    account_id: int | None
    password_hash: str
    wait_s: int = 0  # > 0: refused, the account's sign-in is locked this long
    disabled: bool = False


def begin_attempt(session: Session, name: str, now: datetime | None = None) -> Attempt:
    now = now or utcnow()
    account = session.scalar(select(StaffAccount).where(StaffAccount.name == name))
    if account is None:
        return Attempt(None, stand_in_hash())
    if not account.active:
        return Attempt(None, account.password_hash, disabled=True)
    if account.locked_until is not None and aware(account.locked_until) > now:
        return Attempt(None, "", math.ceil((aware(account.locked_until) - now).total_seconds()))
    failures = account.failed_logins + 1
    lock = lock_seconds(failures)
    counted = session.execute(
        update(StaffAccount).where(StaffAccount.id == account.id, StaffAccount.failed_logins == account.failed_logins)
        .values(failed_logins=failures, locked_until=now + timedelta(seconds=lock) if lock else None)
        .execution_options(synchronize_session=False))
    if counted.rowcount != 1:  # another attempt on this account was counted in between: it goes first
        return Attempt(None, "", 1)
    return Attempt(account.id, account.password_hash)


def start_session(session: Session, secret: str, account_id: int) -> tuple[str, str]:
    """After the right password: failures forgotten, a session row, its cookie token and CSRF token."""
    account = session.get(StaffAccount, account_id)
    account.failed_logins, account.locked_until = 0, None
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    expires = int(time.time()) + SESSION_HOURS * 3600
    session.add(StaffSession(id=session_id, account_id=account.id,
                             expires_at=datetime.fromtimestamp(expires, timezone.utc)))
    session.flush()
    token = sign(secret, {"sub": account.id, "v": account.token_version, "kind": "session", "sid": session_id,
                          "csrf": csrf, "exp": expires})
    return token, csrf


def end_session(session: Session, session_id: str) -> None:
    session.execute(update(StaffSession).where(StaffSession.id == session_id, StaffSession.ended_at.is_(None))
                    .values(ended_at=utcnow()))


def session_is_live(row: StaffSession | None, account_id: int, now: datetime | None = None) -> bool:
    return (row is not None and row.account_id == account_id and row.ended_at is None
            and aware(row.expires_at) > (now or utcnow()))


def last_sign_ins(session: Session) -> dict[int, datetime]:
    """Each account's latest sign-in (its newest session)."""
    rows = session.execute(select(StaffSession.account_id, func.max(StaffSession.created_at))
                           .group_by(StaffSession.account_id))
    return {account_id: aware(at) for account_id, at in rows}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: str, claims: dict) -> str:
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(hashlib.sha256(f"token:{secret}".encode()).digest(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def unsign(secret: str, token: str) -> dict | None:
    """The claims of a token this secret signed and that has not expired, else None."""
    body, _, mac = token.partition(".")
    expected = hmac.new(hashlib.sha256(f"token:{secret}".encode()).digest(), body.encode(),
                        hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64(mac), expected):
            return None
        claims = json.loads(_unb64(body))
    except (ValueError, TypeError):
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
        return None
    return claims


def api_token(secret: str, account: StaffAccount, days: int = API_TOKEN_DAYS) -> str:
    if not 1 <= days <= API_TOKEN_DAYS:
        raise ValueError(f"--days must be 1-{API_TOKEN_DAYS} (an API token lives at most {API_TOKEN_DAYS} days)")
    return sign(secret, {"sub": account.id, "v": account.token_version, "kind": "api",
                         "exp": int(time.time()) + days * 86400})


def outlives_the_cap(claims: dict) -> bool:
    """An API token that claims to live longer than the cap from now (made before there was one): refused."""
    return claims["exp"] > time.time() + API_TOKEN_DAYS * 86400 + 60
