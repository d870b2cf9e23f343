"""Clients, screening, consent, courses and sessions: create, read, change, with an audit trail.

Every function takes the SQLAlchemy session and the ``actor`` (who is doing
it) and writes an :class:`~tracker.models.AuditEvent`; the caller commits.
Rules a clinic relies on are enforced here, not in the UI:

* a course cannot start while the latest screening has an open
  contraindication (or none was recorded), unless an override reason is given;
* a course needs current treatment consent; photos need photography consent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from .access import hash_secret, new_access_code
from .errors import NotAllowed, NotFound, RecordError
from .models import (CONSENT_KINDS, CONTRAINDICATIONS, TECHNIQUES, AuditEvent, Client, Consent, Course,
                     ProductUse, Screening, Session)


def audit(s: DbSession, actor: str, action: str, entity: str, entity_id: int | None, client_id: int | None,
          **detail) -> None:
    """Record who did what. ``detail`` must hold ids and field names only, never personal data."""
    s.add(AuditEvent(actor=actor, action=action, entity=entity, entity_id=entity_id, client_id=client_id,
                     detail=detail or None))


def _get(s: DbSession, model, record_id: int):
    record = s.get(model, record_id)
    if record is None:
        raise NotFound(f"no {model.__name__.lower()} with id {record_id}")
    return record


# --- clients ---------------------------------------------------------------------

def add_client(s: DbSession, actor: str, name: str, date_of_birth: date | None = None, contact: str = "",
               fitzpatrick: int | None = None, notes: str = "") -> tuple[Client, str]:
    """Create a client; returns it and their personal access code (shown once, stored hashed)."""
    if not name.strip():
        raise RecordError("a client needs a name")
    if fitzpatrick is not None and fitzpatrick not in range(1, 7):
        raise RecordError("Fitzpatrick skin type is 1 to 6")
    if date_of_birth is not None and date_of_birth > date.today():
        raise RecordError("date of birth is in the future")
    client = Client(name=name.strip(), date_of_birth=date_of_birth, contact=contact, fitzpatrick=fitzpatrick,
                    notes=notes)
    s.add(client)
    s.flush()
    code = new_access_code(client.id)
    client.access_code_hash = hash_secret(code)
    audit(s, actor, "create", "client", client.id, client.id)
    return client, code


def get_client(s: DbSession, client_id: int, actor: str | None = None) -> Client:
    client = _get(s, Client, client_id)
    if actor:
        audit(s, actor, "view", "client", client.id, client.id)
    return client


@dataclass(frozen=True)
class ClientOverview:
    id: int
    name: str
    date_of_birth: date | None
    courses: int
    sessions: int
    last_session: date | None


def client_overview(s: DbSession, text: str = "", limit: int | None = None) -> list[ClientOverview]:
    """Every client with counts of courses and sessions and the last session's date, in one query."""
    query = (select(Client.id, Client.name, Client.date_of_birth, func.count(func.distinct(Course.id)),
                    func.count(Session.id), func.max(Session.held_on))
             .outerjoin(Course, Course.client_id == Client.id).outerjoin(Session, Session.course_id == Course.id)
             .group_by(Client.id).order_by(Client.name, Client.id).limit(limit))
    if text.strip():
        query = query.where(Client.name.ilike(f"%{text.strip()}%"))
    return [ClientOverview(*row) for row in s.execute(query)]


def reset_access_code(s: DbSession, actor: str, client_id: int) -> str:
    client = _get(s, Client, client_id)
    code = new_access_code(client.id)
    client.access_code_hash = hash_secret(code)
    audit(s, actor, "change", "client", client.id, client.id, fields=["access_code"])
    return code


# --- screening and consent ------------------------------------------------------

def record_screening(s: DbSession, actor: str, client_id: int, screened_on: date, present: set[str] = frozenset(),
                     patch_test_on: date | None = None, patch_test_result: str | None = None,
                     notes: str = "") -> Screening:
    """Record a consultation's medical history; ``present`` names the contraindications found."""
    client = _get(s, Client, client_id)
    unknown = set(present) - set(CONTRAINDICATIONS)
    if unknown:
        raise RecordError(f"unknown contraindication {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(CONTRAINDICATIONS)}")
    if patch_test_result not in (None, "negative", "positive"):
        raise RecordError("patch test result is 'negative' or 'positive'")
    screening = Screening(client=client, screened_on=screened_on, screened_by=actor, notes=notes,
                          patch_test_on=patch_test_on, patch_test_result=patch_test_result,
                          **{field: field in present for field in CONTRAINDICATIONS})
    s.add(screening)
    s.flush()
    audit(s, actor, "create", "screening", screening.id, client.id)
    return screening


def open_contraindications(client: Client) -> list[str]:
    """What stands against treatment now, from the latest screening."""
    if not client.screenings:
        return ["no screening recorded"]
    return client.screenings[-1].open_contraindications


def give_consent(s: DbSession, actor: str, client_id: int, kind: str, given_on: date, signatory: str) -> Consent:
    if kind not in CONSENT_KINDS:
        raise RecordError(f"consent kind is one of {', '.join(CONSENT_KINDS)}")
    client = _get(s, Client, client_id)
    consent = Consent(client=client, kind=kind, given_on=given_on, signatory=signatory)
    s.add(consent)
    s.flush()
    audit(s, actor, "create", "consent", consent.id, client.id, kind=kind)
    return consent


def withdraw_consent(s: DbSession, actor: str, client_id: int, kind: str, withdrawn_on: date) -> list[Consent]:
    client = _get(s, Client, client_id)
    current = [c for c in client.consents if c.kind == kind and c.withdrawn_on is None]
    if not current:
        raise RecordError(f"client {client_id} has no current {kind} consent to withdraw")
    for consent in current:
        consent.withdrawn_on = withdrawn_on
        audit(s, actor, "change", "consent", consent.id, client.id, kind=kind, fields=["withdrawn_on"])
    return current


def has_consent(client: Client, kind: str, day: date | None = None) -> bool:
    day = day or date.today()
    return any(c.kind == kind and c.current_on(day) for c in client.consents)


# --- courses and sessions ---------------------------------------------------------

def start_course(s: DbSession, actor: str, client_id: int, treatment: str, areas: list[str], planned_sessions: int,
                 interval_days: int, started_on: date, override_reason: str | None = None) -> Course:
    """Start a course of treatment; refuses while a contraindication is open, unless overridden with a reason."""
    client = _get(s, Client, client_id)
    if not has_consent(client, "treatment", started_on):
        raise NotAllowed(f"client {client_id} has no current treatment consent")
    if planned_sessions < 1 or interval_days < 1:
        raise RecordError("a course plans at least one session, at least a day apart")
    found = open_contraindications(client)
    if found and not (override_reason and override_reason.strip()):
        raise NotAllowed("open contraindications: " + "; ".join(found)
                         + ". Starting anyway needs an override with a reason")
    course = Course(client=client, treatment=treatment, areas=list(areas), planned_sessions=planned_sessions,
                    interval_days=interval_days, started_on=started_on, status="active",
                    override_reason=override_reason.strip() if found and override_reason else None,
                    override_by=actor if found else None)
    s.add(course)
    s.flush()
    audit(s, actor, "create", "course", course.id, client.id, overridden=bool(found))
    return course


def get_course(s: DbSession, course_id: int) -> Course:
    return _get(s, Course, course_id)


def add_session(s: DbSession, actor: str, course_id: int, held_on: date, practitioner: str, technique: str,
                areas: list[str] = (), products: list[dict] = (), anaesthetic: str = "", notes: str = "",
                immediate_reactions: str = "", aftercare: str = "") -> Session:
    """Record a treatment session; products are dicts with product, batch, expiry, volume_ml."""
    course = _get(s, Course, course_id)
    if technique not in TECHNIQUES:
        raise RecordError(f"technique is one of {', '.join(TECHNIQUES)}")
    if held_on < course.started_on:
        raise RecordError("the session is dated before the course started")
    for product in products:
        if product.get("expiry") and product["expiry"] < held_on:
            raise RecordError(f"{product['product']} batch {product['batch']} expired on {product['expiry']}")
    number = (s.scalar(select(func.max(Session.number)).where(Session.course_id == course.id)) or 0) + 1
    session = Session(course=course, number=number, held_on=held_on, practitioner=practitioner,
                      technique=technique, areas=list(areas), anaesthetic=anaesthetic, notes=notes,
                      immediate_reactions=immediate_reactions, aftercare=aftercare,
                      products=[ProductUse(**p) for p in products])
    s.add(session)
    s.flush()
    audit(s, actor, "create", "session", session.id, course.client_id)
    return session


def parse_product_line(line: str) -> dict:
    """``"name | batch | YYYY-MM-DD | ml"`` (expiry and volume may be empty) as a product dict."""
    parts = [p.strip() for p in line.split("|")]
    parts += [""] * (4 - len(parts))
    if len(parts) != 4 or not parts[0] or not parts[1]:
        raise RecordError(f"product {line!r}: write 'name | batch | expiry YYYY-MM-DD | ml'")
    try:
        expiry = date.fromisoformat(parts[2]) if parts[2] else None
        volume = float(parts[3]) if parts[3] else None
    except ValueError:
        raise RecordError(f"product {line!r}: the expiry is a date YYYY-MM-DD and the volume a number") from None
    return {"product": parts[0], "batch": parts[1], "expiry": expiry, "volume_ml": volume}


def get_session(s: DbSession, session_id: int) -> Session:
    return _get(s, Session, session_id)
