"""Who may see what: staff accounts, client access codes, sign-in, sessions and role checks.

Secrets are stored only as scrypt hashes [1]_ (``hashlib.scrypt``, salted,
n=2**17, r=8, p=1: 128 MiB and about half a second per guess). Hashes made
with weaker parameters still verify and are re-hashed at the next sign-in.
A client's access code is ``<client id>-<secret>``: the id finds the record,
the secret proves the code, so signing in needs one hash, not one per client.

Signing in always costs one scrypt, whether the account or client exists or
not, so the time taken does not tell which usernames exist. Failures are
counted per account and per client code in the database (shared by every app
process), each attempt atomically and before its hash is computed: after
:data:`MAX_FAILURES` in a row the key is locked for :data:`LOCKOUT_S`
seconds, and each further failure locks it again, until a successful sign-in
(or a password reset) clears the count. At most :data:`~tracker.limits.CONCURRENT_HASHES`
hashes run at once in a process (each needs 128 MiB); further attempts
wait their turn, for :data:`~tracker.limits.HASH_WAIT_S` at most.

A signed-in :class:`Viewer` carries a fingerprint of the credential it signed
in with. :func:`current` re-checks it against the database on every page run,
so erasing a client, reissuing their code, or deactivating, resetting or
changing a staff account ends every open session of it, even if a new record
were ever given the same id (the fingerprint covers the salted hash, which a
new record never shares).

The command line acts as the server's owner (:func:`owner`, role
:data:`OWNER`, with no account): whoever can run it can read the data folder
anyway.

Who may do what is one table, :data:`POLICY` (action -> roles), and one
decision, :func:`check` (or :func:`allowed` where no database is at hand),
which every library function calls before it reads or writes: the role must
have the action, a signed-in account must still be valid (:func:`current`,
so a deactivated or reset account can do nothing more, and a practitioner's
clinics are today's), and the client's records must be visible to it.

Clinics within a group: a client belongs to one clinic, a staff member to one
or more. A practitioner sees only their clinics' clients; an ``admin`` is the
group's admin and sees every clinic (in a single clinic, as before, simply the
clinic's admin). The rule is applied inside the library: every query that
lists, finds or opens a client's records takes the :class:`Viewer` and filters
by :func:`visible_clients` / :func:`may_see`, and a record the viewer may not
see is "not found", exactly like a missing one, so its existence does not
leak. A library function's ``actor`` is always a :class:`Viewer` (a bare
name is a TypeError); the app passes the signed-in Viewer. Memberships are read afresh at every page run
(:func:`current`), so adding or removing one applies at once.

References
----------
.. [1] C. Percival, S. Josefsson, "The scrypt Password-Based Key Derivation
       Function", RFC 7914, 2016.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import pathlib
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, delete, func, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import limits
from .errors import NotAllowed, NotFound, RecordError
from .models import ROLES, AuditEvent, Client, Clinic, SetupToken, SignInFailure, User

_N, _R, _P = 2**17, 8, 1
_MAXMEM = 2**28  # scrypt needs 128 * r * n bytes = 128 MiB; OpenSSL's default cap is 32 MiB
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
_CODE = re.compile(r"([0-9]{1,18})-([A-Z0-9]{4})-([A-Z0-9]{4})", re.ASCII)  # ids fit a 64-bit integer
_DUMMY_SALT = bytes(16)
MIN_PASSWORD = 10
MAX_FAILURES = 5
LOCKOUT_S = 15 * 60
IDLE_TIMEOUT_DEFAULT_MIN = 30


#: Free hashes in this process (see module docstring): unauthenticated attempts must not exhaust its memory.
_HASHES = threading.BoundedSemaphore(limits.CONCURRENT_HASHES)


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    if not _HASHES.acquire(timeout=limits.HASH_WAIT_S):
        raise SignInRefused("The server is busy checking other sign-ins: try again in a minute.")
    try:
        return hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM)
    finally:
        _HASHES.release()


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${_scrypt(secret, salt, _N, _R, _P).hex()}"


def verify_secret(secret: str, stored: str | None) -> bool:
    """Whether ``secret`` matches ``stored``; with nothing stored it still spends one hash."""
    if not stored:
        _scrypt(secret, _DUMMY_SALT, _N, _R, _P)
        return False
    try:
        _, n, r, p, salt, digest = stored.split("$")
        n, r, p = int(n), int(r), int(p)
        if n > _N or r > _R or p > _P:  # a hash that would cost more than ours: refuse, don't hang
            return False
        got = _scrypt(secret, bytes.fromhex(salt), n, r, p)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def needs_rehash(stored: str) -> bool:
    return not stored.startswith(f"scrypt${_N}${_R}${_P}$")


def _fingerprint(*parts) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def new_access_code(client_id: int) -> str:
    secret = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    return f"{client_id}-{secret[:4]}-{secret[4:]}"


def _parse_code(code: str) -> int | None:
    """The client id of a well-formed access code, else None (odd characters, huge ids)."""
    match = _CODE.fullmatch(code)
    return int(match.group(1)) if match else None


def client_for_code(s: Session, code: str) -> Client | None:
    """The client whose personal access code this is, or None. Upgrades a weaker stored hash."""
    code = code.strip().upper()
    client_id = _parse_code(code)
    client = s.get(Client, client_id) if client_id is not None else None
    stored = client.access_code_hash if client is not None else None
    if not verify_secret(code, stored):
        return None
    if needs_rehash(stored):
        client.access_code_hash = hash_secret(code)
    return client


def authenticate(s: Session, username: str, password: str) -> User | None:
    """The active account with this username and password, or None. Upgrades a weaker stored hash."""
    plausible = len(username) <= 80 and username.isprintable()  # no NUL or a megabyte sent to the database
    user = s.scalar(select(User).where(User.username == username, User.active.is_(True))) if plausible else None
    if not verify_secret(password, user.password_hash if user is not None else None):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_secret(password)
    return user


# --- who is looking ----------------------------------------------------------------

@dataclass(frozen=True)
class Viewer:
    """Who is looking: a staff member (``role`` practitioner or admin) or a client (``client_id``).

    ``username`` is unique and is what the audit log records; ``display_name``
    is for people to read. ``account_id`` and ``credential`` tie a signed-in
    viewer to the database row and credential it signed in with. ``clinics``
    are the ids of the clinics a staff member works in; an admin (the group's
    admin) sees every clinic whatever their own.
    """

    username: str
    role: str  # "practitioner", "admin", "client", or OWNER (the server's owner: see owner())
    display_name: str = ""
    client_id: int | None = None
    account_id: int | None = None
    credential: str = ""
    clinics: frozenset[int] = frozenset()

    @property
    def name(self) -> str:
        """The audit log's actor: the unique username, never the display name."""
        return self.username

    @property
    def is_staff(self) -> bool:
        return self.role in ROLES or self.role == OWNER

    @property
    def sees_every_clinic(self) -> bool:
        """The group's admin (and the server's owner) sees every clinic."""
        return self.role in ("admin", OWNER)


#: The role of the server's owner: whoever runs the command line or a script on the data folder.
OWNER = "owner"


def owner(name: str) -> Viewer:
    """The server's owner, named ``name`` in the audit log: the command line and scripts act as it. It has no
    account in the database and may do everything (:data:`POLICY`), backups and restores included."""
    if not isinstance(name, str):
        raise TypeError("the owner is named by a string")
    return Viewer(name, OWNER, name)


def as_viewer(actor: Viewer) -> Viewer:
    """Who is acting; never a bare name (a name is not a sign-in: the owner is :func:`owner`)."""
    if not isinstance(actor, Viewer):
        raise TypeError(f"an actor is a Viewer (access.owner(name) for the server's owner), not {type(actor).__name__}")
    return actor


def actor_name(actor: Viewer) -> str:
    """The audit log's name for ``actor``."""
    return as_viewer(actor).name


# --- who may do what -------------------------------------------------------------------

_STAFF = frozenset({OWNER, "admin", "practitioner"})
_ADMINS = frozenset({OWNER, "admin"})
#: Who may do what, by role: the one registry every library entry point asks through :func:`allowed`.
#: A practitioner keeps the records of their clinics' clients; erasing a client, exporting their data and
#: managing staff are an admin's; backups and restores hold every clinic's records and are the owner's
#: alone (the command line). A client may only view their own records.
POLICY: dict[str, frozenset[str]] = {
    "view": _STAFF | {"client"},
    "correct": _STAFF,  # add or change any record: client details, screening, consent, courses, sessions
    "import": _STAFF,
    "move": _STAFF,
    "remove": _STAFF,
    "analyse": _STAFF,
    "erase": _ADMINS,
    "export": _ADMINS,
    "gallery": _STAFF,
    "report": _STAFF,
    "manage_staff": _ADMINS,
    "quality": _STAFF,  # the measurement quality page: the clinic's floors and detection limits
    "calibrate": _ADMINS,  # set the clinic's own floors
    "backup": frozenset({OWNER}),
    "restore": frozenset({OWNER}),
}


def allowed(actor: Viewer, action: str, client: Client | None = None) -> bool:
    """Whether ``actor`` may do ``action`` (a :data:`POLICY` key), on ``client``'s records if given."""
    viewer = as_viewer(actor)
    if viewer.role not in POLICY[action]:
        return False
    return client is None or may_see(viewer, client)


#: Who each set of roles is, for the refusal's message.
_NEEDS = {_STAFF: "a practitioner or admin sign-in", _ADMINS: "an admin sign-in",
          frozenset({OWNER}): "the server's owner (the command line)"}


def check(s: Session, actor: Viewer | None, action: str, client: Client | None = None) -> Viewer:
    """Raise unless ``actor`` may do ``action`` (on ``client``'s records): :class:`NotFound` for records the actor
    may not see at all (their existence does not leak), :class:`NotAllowed` for an action their role does not
    have, or a signed-in account that is no longer valid (deactivated, reset, erased: :func:`current`)."""
    if action not in POLICY:
        raise ValueError(f"unknown action {action!r}")
    if actor is None:
        raise NotAllowed(f"this needs {_NEEDS.get(POLICY[action] - {'client'}, 'a sign-in')}")
    viewer = as_viewer(actor)
    if client is not None and not may_see(viewer, client):
        raise NotFound(f"client {client.id} not found")
    if viewer.role not in POLICY[action]:
        needs = _NEEDS.get(POLICY[action] - {"client"}, "another role")
        raise NotAllowed(f"{action.replace('_', ' ')}: this needs {needs}, not a {viewer.role}'s")
    # the owner has no account; anyone else is as the database has them now (today's clinics, still active)
    fresh = viewer if viewer.role == OWNER and viewer.account_id is None else current(s, viewer)
    if fresh is None:
        raise NotAllowed("this sign-in is no longer valid: sign in again")
    if client is not None and not may_see(fresh, client):
        raise NotFound(f"client {client.id} not found")
    return fresh


def visible_clients(actor: Viewer) -> ColumnElement[bool]:
    """A condition on :class:`Client` rows: the clients ``actor`` may see (see the module docstring)."""
    viewer = as_viewer(actor)
    if viewer.sees_every_clinic:
        return true()
    if viewer.is_staff:
        return Client.clinic_id.in_(sorted(viewer.clinics))
    return Client.id == viewer.client_id


def may_see(actor: Viewer | str, client: Client | None) -> bool:
    """Whether ``actor`` may see this client's records (the rule of :func:`visible_clients`, for one row)."""
    viewer = as_viewer(actor)
    if client is None:
        return False
    if viewer.sees_every_clinic:
        return True
    if viewer.is_staff:
        return client.clinic_id in viewer.clinics
    return viewer.client_id is not None and client.id == viewer.client_id


def staff_viewer(user: User) -> Viewer:
    if user.role not in ROLES:  # a row no migration lets in (CHECK, 0008); never the owner's powers
        raise NotAllowed(f"account {user.username!r} has no known role")
    return Viewer(user.username, user.role, user.display_name, account_id=user.id,
                  credential=_fingerprint(user.id, user.username, user.role, user.password_hash),
                  clinics=frozenset(c.id for c in user.clinics))


def client_viewer(client: Client) -> Viewer:
    return Viewer("client", "client", "client", client_id=client.id,
                  credential=_fingerprint(client.id, client.access_code_hash))


def current(s: Session, viewer: Viewer | None) -> Viewer | None:
    """The viewer as the database sees it now, or None if their session must end (see module docstring)."""
    if viewer is None or not viewer.credential:
        return None
    if viewer.is_staff:
        user = s.get(User, viewer.account_id) if viewer.account_id is not None else None
        if user is None or not user.active:
            return None
        fresh = staff_viewer(user)
    else:
        client = s.get(Client, viewer.client_id) if viewer.client_id is not None else None
        if client is None or not client.access_code_hash:
            return None
        fresh = client_viewer(client)
    return fresh if hmac.compare_digest(fresh.credential, viewer.credential) else None


def idle_timeout_s() -> float:
    """Seconds without a page run after which the app signs a viewer out (``$TRACKER_IDLE_MINUTES``, default 30)."""
    text = os.environ.get("TRACKER_IDLE_MINUTES", "")
    try:
        minutes = float(text) if text.strip() else IDLE_TIMEOUT_DEFAULT_MIN
    except ValueError:
        minutes = IDLE_TIMEOUT_DEFAULT_MIN
    return max(minutes, 1.0) * 60


# --- sign-in with throttling -------------------------------------------------------

class SignInRefused(NotAllowed):
    pass


def _key(kind: str, name: str) -> str:
    # Hashed, so that a password typed into the username field is not kept in clear.
    return hashlib.sha256(f"{kind}:{name}".encode()).hexdigest()


def _refused_until(locked_until: float, now: float) -> SignInRefused:
    minutes = max(1, round((locked_until - now) / 60))
    return SignInRefused(f"Too many failed sign-ins: try again in {minutes} minute{'s' * (minutes > 1)}.")


def _count_attempt(s: Session, key: str, now: float) -> None:
    """Count an attempt for ``key`` as a failure before its hash is computed, and commit; raises
    :class:`SignInRefused` when the key is locked. A success then clears the count (:func:`_succeeded`).

    One ``UPDATE`` counts and locks (at the :data:`MAX_FAILURES`-th attempt), and only while the key is not
    locked: concurrent attempts are counted one after another by the database, so no more than
    :data:`MAX_FAILURES` of them, in any number of threads and processes, ever reach the hash.
    """
    s.commit()  # a transaction of its own (on SQLite a write after an old read snapshot cannot wait its turn)
    s.execute(delete(SignInFailure).where(SignInFailure.last_at < now - 86400,
                                          func.coalesce(SignInFailure.locked_until, 0) < now))
    counted = func.coalesce(SignInFailure.locked_until, 0) <= now
    bump = (update(SignInFailure).where(SignInFailure.key == key, counted)
            .values(failures=SignInFailure.failures + 1, last_at=now,
                    locked_until=case((SignInFailure.failures + 1 >= MAX_FAILURES, now + LOCKOUT_S),
                                      else_=SignInFailure.locked_until)))
    for _ in range(2):
        if s.execute(bump).rowcount:
            s.commit()
            return
        locked_until = s.scalar(select(SignInFailure.locked_until).where(SignInFailure.key == key))
        if locked_until is not None:
            s.commit()
            raise _refused_until(locked_until, now)
        try:
            s.add(SignInFailure(key=key, failures=1, last_at=now))
            s.commit()
            return
        except IntegrityError:  # another attempt counted the same key first: count this one after it
            s.rollback()
    raise SignInRefused("Too many sign-ins at once: try again in a minute.")


def _succeeded(s: Session, key: str) -> None:
    s.execute(delete(SignInFailure).where(SignInFailure.key == key))


def sign_in_staff(s: Session, username: str, password: str, now: float | None = None) -> Viewer:
    """Sign a staff member in; commits the outcome (an attempt counts as a failure until it succeeds).

    Raises :class:`SignInRefused` with a message for people: the same one for an
    unknown username and a wrong password.
    """
    now = time.time() if now is None else now
    key = _key("user", username)
    _count_attempt(s, key, now)
    user = authenticate(s, username, password)
    if user is None:
        s.commit()
        raise SignInRefused("Unknown username or wrong password.")
    _succeeded(s, key)
    s.add(AuditEvent(actor=user.username, action="login", entity="user", entity_id=user.id))
    s.commit()
    return staff_viewer(user)


def sign_in_client(s: Session, code: str, now: float | None = None) -> Viewer:
    """Sign a client in with their access code; throttled per client id (see :func:`sign_in_staff`)."""
    now = time.time() if now is None else now
    refused = SignInRefused("This access code is not valid. Ask your clinic for a new one.")
    client_id = _parse_code(code.strip().upper())
    key = _key("client", str(client_id))
    if client_id is not None:
        _count_attempt(s, key, now)
    client = client_for_code(s, code)  # one hash, even for a malformed code
    if client is None:
        s.commit()
        raise refused
    _succeeded(s, key)
    s.add(AuditEvent(actor="client", action="login", entity="client", entity_id=client.id, client_id=client.id,
                     clinic_id=client.clinic_id))
    s.commit()
    return client_viewer(client)


# --- staff accounts ----------------------------------------------------------------

#: Passwords too common to keep anyone out (see the file's header for where they come from), lowercased.
COMMON_PASSWORDS = pathlib.Path(__file__).resolve().parent / "common-passwords.txt"


@functools.cache
def _common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise RecordError(f"passwords need at least {MIN_PASSWORD} characters")
    if password.strip().lower() in _common_passwords():
        raise RecordError("this password is one of the most common ones, which attackers try first: choose another")


def clinics_named(s: Session, names: Iterable[str]) -> list[Clinic]:
    """The clinics with these names, by name; a RecordError naming the choices for one that does not exist."""
    found = []
    for name in dict.fromkeys(n.strip() for n in names):
        clinic = s.scalar(select(Clinic).where(Clinic.name == name))
        if clinic is None:
            choices = ", ".join(repr(c) for c in s.scalars(select(Clinic.name).order_by(Clinic.name)))
            raise RecordError(f"no clinic named {name!r}: the clinics are {choices}")
        found.append(clinic)
    return sorted(found, key=lambda c: c.name)


def _staff_clinics(s: Session, role: str, names: Iterable[str] | None) -> list[Clinic]:
    """The clinics a new account joins: those named, else the only clinic; a practitioner needs one."""
    if names:
        return clinics_named(s, names)
    every = list(s.scalars(select(Clinic).order_by(Clinic.name)))
    if len(every) == 1:
        return every
    if role == "admin":  # the group's admin sees every clinic, whichever they work in
        return []
    choices = ", ".join(repr(c.name) for c in every)
    raise RecordError(f"name the clinic(s) this practitioner works in: the clinics are {choices}")


def _new_user(s: Session, actor: str, username: str, password: str, role: str, display_name: str,
              clinics: Iterable[str] | None = None) -> User:
    username = username.strip()
    if role not in ROLES:
        raise RecordError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if not re.fullmatch(r"[a-z0-9._-]{1,80}", username, re.ASCII):
        raise RecordError("a username is 1 to 80 lower-case letters, digits, '.', '_' or '-'")
    if not display_name.isprintable():
        raise RecordError("a display name is one line of text, without control characters")
    _check_password(password)
    if s.scalar(select(User).where(User.username == username)) is not None:
        raise RecordError(f"user {username!r} already exists")
    user = User(username=username, display_name=display_name.strip() or username, role=role,
                password_hash=hash_secret(password), clinics=_staff_clinics(s, role, clinics))
    s.add(user)
    s.flush()
    s.add(AuditEvent(actor=actor, action="create", entity="user", entity_id=user.id))
    return user


def add_user(s: Session, by: Viewer, username: str, password: str, role: str, display_name: str = "",
             clinics: Iterable[str] | None = None) -> User:
    """Add a staff account, working in the named ``clinics`` (default: the only clinic); only an admin may.

    With several clinics a practitioner needs at least one; an admin sees every clinic anyway.
    """
    check(s, by, "manage_staff")
    return _new_user(s, by.username, username, password, role, display_name, clinics)


def set_user_clinics(s: Session, by: Viewer, username: str, clinics: Iterable[str]) -> User:
    """Set the clinics a staff member works in (by name); only an admin may. A practitioner keeps at least one."""
    check(s, by, "manage_staff")
    user = _user(s, username)
    chosen = clinics_named(s, clinics)
    if not chosen and user.role != "admin":
        raise RecordError("a practitioner works in at least one clinic: deactivate the account instead")
    if {c.id for c in chosen} != {c.id for c in user.clinics}:
        user.clinics = chosen
        s.add(AuditEvent(actor=by.username, action="change", entity="user", entity_id=user.id,
                         detail={"fields": ["clinics"], "clinic_ids": sorted(c.id for c in chosen)}))
    return user


def join_clinic(s: Session, by: Viewer, username: str, clinic: str) -> User:
    """Add a staff member to the clinic named ``clinic`` (see :func:`set_user_clinics`)."""
    current = [c.name for c in _user(s, username).clinics]
    return set_user_clinics(s, by, username, current + [clinic])


def leave_clinic(s: Session, by: Viewer, username: str, clinic: str) -> User:
    """Take a staff member out of the clinic named ``clinic`` (see :func:`set_user_clinics`)."""
    current = [c.name for c in _user(s, username).clinics]
    if clinic.strip() not in current:
        raise RecordError(f"{username!r} does not work in {clinic.strip()!r}")
    return set_user_clinics(s, by, username, [n for n in current if n != clinic.strip()])


def has_users(s: Session) -> bool:
    """Whether any staff account exists (if not, the server's owner sets up the first admin)."""
    return s.scalar(select(User.id).limit(1)) is not None


def create_first_admin(s: Session, username: str, password: str, display_name: str = "") -> User:
    """The first admin account, while no staff account exists at all; refused afterwards.

    The caller must have proved it is the server's owner (the app's one-time
    setup token printed on the server's console).
    """
    if has_users(s):
        raise NotAllowed("a staff account exists already: ask an admin to add yours")
    user = _new_user(s, username.strip(), username, password, "admin", display_name)
    s.execute(delete(SetupToken))  # every instance's token has done its work
    return user


def register_setup_token(s: Session, token: str) -> None:
    """Record a setup token an app process printed on the server's console (its SHA-256 only), so that every
    app instance on this database accepts it until the first admin exists."""
    s.merge(SetupToken(sha256=hashlib.sha256(token.encode()).hexdigest()))


def setup_token_valid(s: Session, typed: str) -> bool:
    """True if ``typed`` is a setup token some app instance printed (and no admin has used one yet)."""
    return s.get(SetupToken, hashlib.sha256(typed.strip().encode()).hexdigest()) is not None


def list_users(s: Session, by: Viewer) -> list[User]:
    check(s, by, "manage_staff")
    return list(s.scalars(select(User).order_by(User.username)))


def _user(s: Session, username: str) -> User:
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def deactivate_user(s: Session, by: Viewer, username: str) -> User:
    """Deactivate an account (it can no longer sign in, its open sessions end); never the last active admin."""
    check(s, by, "manage_staff")
    user = _user(s, username)
    if user.role == "admin" and user.active:
        admins = s.scalar(select(func.count(User.id)).where(User.role == "admin", User.active.is_(True)))
        if admins <= 1:
            raise RecordError("this is the last active admin: add another admin first")
    user.active = False
    s.add(AuditEvent(actor=by.username, action="change", entity="user", entity_id=user.id,
                     detail={"fields": ["active"]}))
    return user


def reset_password(s: Session, by: Viewer, username: str, password: str | None = None) -> str:
    """Set a new password (a random temporary one when none is given) and return it; ends open sessions."""
    check(s, by, "manage_staff")
    user = _user(s, username)
    password = password if password is not None else secrets.token_urlsafe(12)
    _check_password(password)
    user.password_hash = hash_secret(password)
    s.execute(delete(SignInFailure).where(SignInFailure.key == _key("user", user.username)))
    s.add(AuditEvent(actor=by.username, action="change", entity="user", entity_id=user.id,
                     detail={"fields": ["password"]}))
    return password


# --- role checks -------------------------------------------------------------------

def require_staff(viewer: Viewer | None) -> Viewer:
    """For the app's pages: a staff sign-in (the library checks each action itself, :func:`check`)."""
    if viewer is None or not viewer.is_staff:
        raise NotAllowed("this needs a practitioner or admin sign-in")
    return viewer


def require_admin(viewer: Viewer | None) -> Viewer:
    if viewer is None or viewer.role not in _ADMINS:
        raise NotAllowed("this needs an admin sign-in")
    return viewer

