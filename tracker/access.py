"""Who may see what: staff accounts, client access codes and role checks.

Secrets are stored only as scrypt hashes [1]_ (``hashlib.scrypt``, salted,
n=2**14, r=8, p=1). A client's access code is ``<client id>-<secret>``: the
id finds the record, the secret proves the code, so signing in needs one
hash, not one per client.

References
----------
.. [1] C. Percival, S. Josefsson, "The scrypt Password-Based Key Derivation
       Function", RFC 7914, 2016.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import NotAllowed, RecordError
from .models import ROLES, Client, User

_N, _R, _P = 2**14, 8, 1
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_secret(secret: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(secret.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def new_access_code(client_id: int) -> str:
    secret = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    return f"{client_id}-{secret[:4]}-{secret[4:]}"


def client_for_code(s: Session, code: str) -> Client | None:
    """The client whose personal access code this is, or None."""
    head, _, _ = code.strip().partition("-")
    if not head.isdigit():
        return None
    client = s.get(Client, int(head))
    return client if client is not None and verify_secret(code.strip().upper(), client.access_code_hash) else None


def add_user(s: Session, username: str, password: str, role: str, display_name: str = "") -> User:
    if role not in ROLES:
        raise RecordError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if len(password) < 10:
        raise RecordError("passwords need at least 10 characters")
    if s.scalar(select(User).where(User.username == username)) is not None:
        raise RecordError(f"user {username!r} already exists")
    user = User(username=username, display_name=display_name or username, role=role,
                password_hash=hash_secret(password))
    s.add(user)
    s.flush()
    return user


def has_users(s: Session) -> bool:
    """Whether any staff account exists (if not, the app offers to create the first admin)."""
    return s.scalar(select(User.id).limit(1)) is not None


def authenticate(s: Session, username: str, password: str) -> User | None:
    user = s.scalar(select(User).where(User.username == username, User.active.is_(True)))
    return user if user is not None and verify_secret(password, user.password_hash) else None


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a staff member (``role`` practitioner or admin) or a client (``client_id``)."""

    name: str
    role: str  # "practitioner", "admin" or "client"
    client_id: int | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in ROLES


def require_staff(viewer: Viewer | None) -> Viewer:
    if viewer is None or not viewer.is_staff:
        raise NotAllowed("this needs a practitioner or admin sign-in")
    return viewer


def require_admin(viewer: Viewer | None) -> Viewer:
    if viewer is None or viewer.role != "admin":
        raise NotAllowed("this needs an admin sign-in")
    return viewer


def require_client_access(viewer: Viewer | None, client_id: int) -> Viewer:
    """Staff see every client; a client sees only their own records."""
    if viewer is None:
        raise NotAllowed("sign in first")
    if viewer.is_staff or viewer.client_id == client_id:
        return viewer
    raise NotAllowed("these records belong to another client")
