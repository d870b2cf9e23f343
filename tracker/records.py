"""Clients, screening, consent, courses and sessions: create, read, change, with an audit trail.

Every function takes the SQLAlchemy session and the ``actor`` (who is doing
it) and writes an :class:`~tracker.models.AuditEvent`; the caller commits.
Rules a clinic relies on are enforced here, not in the UI:

* a course cannot start while the latest screening has an open
  contraindication (or none was recorded), unless an override reason is given;
* a course needs current treatment consent; photos need photography consent;
* dates are plausible (a date of birth from 1900 to today, nothing recorded
  as done in the future) and a session beyond the plan, out of date order or
  in the future needs ``confirmed=True`` (:class:`~tracker.errors.NeedsConfirmation`);
* a record is amended, not overwritten: every correction keeps the previous
  values in a :class:`~tracker.models.RecordVersion` with who, when and why;
* a viewer sees only the clients of their clinics (:mod:`tracker.access`):
  every function that finds or opens a record checks it, and another clinic's
  record is "not found" like a missing one. ``actor`` is the signed-in
  :class:`~tracker.access.Viewer`, or a plain name for the server's owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from .access import Viewer, actor_name, check, hash_secret, may_see, new_access_code, visible_clients
from .clinics import clinic_for_new_client
from .errors import DuplicateRecord, NeedsConfirmation, NotAllowed, NotFound, RecordError
from .models import (CONSENT_KINDS, CONTRAINDICATIONS, COURSE_STATUSES, HEXSEL_ITEMS, TECHNIQUES, AuditEvent, Client,
                     Consent, Course, HexselScore, ProductUse, RecordVersion, Screening, Session, utcnow)

EARLIEST_BIRTH = date(1900, 1, 1)
#: A second identical session for the same course and date within this time is a double submission.
DUPLICATE_WINDOW = timedelta(seconds=30)


Actor = Viewer  # who acts: a signed-in Viewer, or access.owner(name); never a bare name


def audit(s: DbSession, actor: Actor, action: str, entity: str, entity_id: int | None, client_id: int | None,
          *, clinic_id: int | None = None, **detail) -> None:
    """Record who did what, and in which clinic (by default the client's).

    ``detail`` must hold ids and field names only, never personal data.
    """
    if clinic_id is None and client_id is not None:
        client = s.get(Client, client_id)
        clinic_id = client.clinic_id if client is not None else None
    s.add(AuditEvent(actor=actor_name(actor), action=action, entity=entity, entity_id=entity_id,
                     client_id=client_id, clinic_id=clinic_id, detail=detail or None))


def check_date(label: str, value, earliest: date | None = None, latest: date | None = None) -> date | None:
    """``value`` if it is a date within [earliest, latest] (None passes); else a RecordError naming the field."""
    if value is None:
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise RecordError(f"{label}: {value!r} is not a date (YYYY-MM-DD)")
    if earliest is not None and value < earliest:
        raise RecordError(f"{label} {value.isoformat()} is before {earliest.isoformat()}")
    if latest is not None and value > latest:
        raise RecordError(f"{label} {value.isoformat()} is after {latest.isoformat()}"
                          + (" (today)" if latest == date.today() else ""))
    return value


def _jsonable(value):
    return value.isoformat() if isinstance(value, (date, datetime)) else value


def amend(s: DbSession, actor: Actor, record, entity: str, client_id: int, changes: dict, reason: str,
           previous_extra: dict | None = None) -> list[str]:
    """Apply ``changes`` to ``record``, keeping the previous values as a RecordVersion; returns the changed fields.

    Refuses a correction without a reason, and one that changes nothing.
    """
    if not (reason and reason.strip()):
        raise RecordError("a correction needs a reason")
    changed = {k: v for k, v in changes.items() if getattr(record, k) != v}
    if not changed and not previous_extra:
        raise RecordError(f"nothing to change in {entity} {record.id}")
    previous = {k: _jsonable(getattr(record, k)) for k in changed} | (previous_extra or {})
    s.add(RecordVersion(client_id=client_id, entity=entity, entity_id=record.id, previous=previous,
                        actor=actor_name(actor), reason=reason.strip()))
    for key, value in changed.items():
        setattr(record, key, value)
    s.flush()
    audit(s, actor, "change", entity, record.id, client_id, fields=sorted(previous))
    return sorted(previous)


def history(s: DbSession, viewer: Actor, client_id: int) -> list[RecordVersion]:
    """Every correction of a client's records, newest first."""
    _get(s, Client, client_id, viewer)
    return list(s.scalars(select(RecordVersion).where(RecordVersion.client_id == client_id)
                          .order_by(RecordVersion.at.desc(), RecordVersion.id.desc())))


def client_of(record) -> Client:
    """The client a record belongs to."""
    if isinstance(record, Client):
        return record
    if isinstance(record, Session):
        return record.course.client
    if isinstance(record, ProductUse):
        return record.session.course.client
    return record.client  # screening, consent, course


def _get(s: DbSession, model, record_id: int, viewer: Actor, action: str = "view"):
    """The record, if ``viewer`` may see its client (otherwise NotFound, the same as for a missing one) and may
    do ``action`` on it (otherwise NotAllowed: :func:`tracker.access.check`)."""
    record = s.get(model, record_id)
    if record is None or not may_see(viewer, client_of(record)):
        raise NotFound(f"no {model.__name__.lower()} with id {record_id}")
    check(s, viewer, action, client_of(record))
    return record


# --- clients ---------------------------------------------------------------------

def add_client(s: DbSession, actor: Actor, name: str, date_of_birth: date | None = None, contact: str = "",
               fitzpatrick: int | None = None, notes: str = "", clinic_id: int | None = None) -> tuple[Client, str]:
    """Create a client in ``clinic_id`` (default: the actor's only clinic; with several, one must be chosen);
    returns it and their personal access code (shown once, stored hashed)."""
    check(s, actor, "correct")
    if not name.strip():
        raise RecordError("a client needs a name")
    if fitzpatrick is not None and fitzpatrick not in range(1, 7):
        raise RecordError("Fitzpatrick skin type is 1 to 6")
    check_date("date of birth", date_of_birth, EARLIEST_BIRTH, date.today())
    clinic = clinic_for_new_client(s, actor, clinic_id)
    client = Client(name=name.strip(), date_of_birth=date_of_birth, contact=contact, fitzpatrick=fitzpatrick,
                    notes=notes, clinic=clinic)
    s.add(client)
    s.flush()
    code = new_access_code(client.id)
    client.access_code_hash = hash_secret(code)
    audit(s, actor, "create", "client", client.id, client.id)
    return client, code


CLIENT_FIELDS = ("name", "date_of_birth", "contact", "fitzpatrick", "notes")


def update_client(s: DbSession, actor: Actor, client_id: int, reason: str, **changes) -> list[str]:
    """Correct a client's details (any of CLIENT_FIELDS); returns the fields changed."""
    client = _get(s, Client, client_id, actor, "correct")
    unknown = set(changes) - set(CLIENT_FIELDS)
    if unknown:
        raise RecordError(f"unknown client field {', '.join(sorted(unknown))}; known: {', '.join(CLIENT_FIELDS)}")
    if "name" in changes:
        if not (changes["name"] or "").strip():
            raise RecordError("a client needs a name")
        changes["name"] = changes["name"].strip()
    if changes.get("fitzpatrick") is not None and changes["fitzpatrick"] not in range(1, 7):
        raise RecordError("Fitzpatrick skin type is 1 to 6")
    check_date("date of birth", changes.get("date_of_birth"), EARLIEST_BIRTH, date.today())
    return amend(s, actor, client, "client", client.id, changes, reason)


def get_client(s: DbSession, viewer: Actor, client_id: int, record_view: bool = False,
               action: str = "view") -> Client:
    """A client ``viewer`` may see (else NotFound) and do ``action`` on (else NotAllowed); with ``record_view``
    the audit log records the view."""
    client = _get(s, Client, client_id, viewer, action)
    if record_view:
        audit(s, viewer, "view", "client", client.id, client.id)
    return client


@dataclass(frozen=True)
class ClientOverview:
    id: int
    name: str
    date_of_birth: date | None
    courses: int
    sessions: int
    last_session: date | None
    clinic_id: int


def client_overview(s: DbSession, viewer: Actor, text: str = "", limit: int | None = None,
                    clinic_id: int | None = None) -> list[ClientOverview]:
    """Every client ``viewer`` sees (of one clinic, when given), with counts of courses and sessions and the
    last session's date, in one query."""
    check(s, viewer, "view")
    query = (select(Client.id, Client.name, Client.date_of_birth, func.count(func.distinct(Course.id)),
                    func.count(Session.id), func.max(Session.held_on), Client.clinic_id)
             .outerjoin(Course, Course.client_id == Client.id).outerjoin(Session, Session.course_id == Course.id)
             .where(visible_clients(viewer))
             .group_by(Client.id).order_by(Client.name, Client.id).limit(limit))
    if clinic_id is not None:
        query = query.where(Client.clinic_id == clinic_id)
    if text.strip():
        query = query.where(Client.name.ilike(f"%{text.strip()}%"))
    return [ClientOverview(*row) for row in s.execute(query)]


def reset_access_code(s: DbSession, actor: Actor, client_id: int) -> str:
    client = _get(s, Client, client_id, actor, "correct")
    code = new_access_code(client.id)
    client.access_code_hash = hash_secret(code)
    audit(s, actor, "change", "client", client.id, client.id, fields=["access_code"])
    return code


# --- screening and consent ------------------------------------------------------

def record_screening(s: DbSession, actor: Actor, client_id: int, screened_on: date, present: set[str] = frozenset(),
                     patch_test_on: date | None = None, patch_test_result: str | None = None,
                     notes: str = "") -> Screening:
    """Record a consultation's medical history; ``present`` names the contraindications found."""
    client = _get(s, Client, client_id, actor, "correct")
    unknown = set(present) - set(CONTRAINDICATIONS)
    if unknown:
        raise RecordError(f"unknown contraindication {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(CONTRAINDICATIONS)}")
    check_date("consultation date", screened_on, EARLIEST_BIRTH, date.today())
    _check_patch_test(patch_test_on, patch_test_result)
    screening = Screening(client=client, screened_on=screened_on, screened_by=actor_name(actor), notes=notes,
                          patch_test_on=patch_test_on, patch_test_result=patch_test_result,
                          **{field: field in present for field in CONTRAINDICATIONS})
    s.add(screening)
    s.flush()
    audit(s, actor, "create", "screening", screening.id, client.id)
    return screening


SCREENING_FIELDS = ("screened_on", *CONTRAINDICATIONS, "patch_test_on", "patch_test_result", "notes")


def _check_patch_test(tested_on: date | None, result: str | None) -> None:
    """A patch test is its date and its result together: a result without its date (a date field cleared by
    Escape comes back empty) cannot be checked against the session dates, and a date alone says nothing."""
    if result not in (None, "negative", "positive"):
        raise RecordError("patch test result is 'negative' or 'positive'")
    if (tested_on is None) != (result is None):
        raise RecordError("a patch test needs both its date and its result"
                          + (" (the date is missing)" if tested_on is None else " (the result is missing)"))
    check_date("patch test date", tested_on, EARLIEST_BIRTH, date.today())


def amend_screening(s: DbSession, actor: Actor, screening_id: int, reason: str, **changes) -> list[str]:
    """Correct a recorded screening (any of SCREENING_FIELDS); returns the fields changed."""
    screening = _get(s, Screening, screening_id, actor, "correct")
    unknown = set(changes) - set(SCREENING_FIELDS)
    if unknown:
        raise RecordError(f"unknown screening field {', '.join(sorted(unknown))}")
    if "screened_on" in changes and changes["screened_on"] is None:
        raise RecordError("a screening needs its consultation date")
    check_date("consultation date", changes.get("screened_on"), EARLIEST_BIRTH, date.today())
    _check_patch_test(changes.get("patch_test_on", screening.patch_test_on),
                      changes.get("patch_test_result", screening.patch_test_result))
    return amend(s, actor, screening, "screening", screening.client_id, changes, reason)


def open_contraindications(client: Client) -> list[str]:
    """What stands against treatment now, from the latest screening."""
    if not client.screenings:
        return ["no screening recorded"]
    return client.screenings[-1].open_contraindications


def give_consent(s: DbSession, actor: Actor, client_id: int, kind: str, given_on: date, signatory: str) -> Consent:
    if kind not in CONSENT_KINDS:
        raise RecordError(f"consent kind is one of {', '.join(CONSENT_KINDS)}")
    client = _get(s, Client, client_id, actor, "correct")
    if given_on is None:
        raise RecordError("a consent needs the date it was given")
    check_date("consent date", given_on, EARLIEST_BIRTH, date.today())
    if not (signatory or "").strip():
        raise RecordError("a consent needs the name of who signed it")
    consent = Consent(client=client, kind=kind, given_on=given_on, signatory=signatory)
    s.add(consent)
    s.flush()
    audit(s, actor, "create", "consent", consent.id, client.id, kind=kind)
    return consent


def withdraw_consent(s: DbSession, actor: Actor, client_id: int, kind: str, withdrawn_on: date) -> list[Consent]:
    client = _get(s, Client, client_id, actor, "correct")
    current = [c for c in client.consents if c.kind == kind and c.withdrawn_on is None]
    if not current:
        raise RecordError(f"client {client_id} has no current {kind} consent to withdraw")
    check_date("withdrawal date", withdrawn_on, max(c.given_on for c in current), date.today())
    for consent in current:
        consent.withdrawn_on = withdrawn_on
        audit(s, actor, "change", "consent", consent.id, client.id, kind=kind, fields=["withdrawn_on"])
    return current


def amend_consent(s: DbSession, actor: Actor, consent_id: int, reason: str, given_on: date | None = None,
                  signatory: str | None = None, withdrawn_on: date | None | str = "unchanged") -> list[str]:
    """Correct a consent record: its date, signatory or withdrawal date (None clears a withdrawal)."""
    consent = _get(s, Consent, consent_id, actor, "correct")
    changes = {}
    if given_on is not None:
        changes["given_on"] = check_date("consent date", given_on, EARLIEST_BIRTH, date.today())
    if signatory is not None:
        if not signatory.strip():
            raise RecordError("a consent needs the name of who signed it")
        changes["signatory"] = signatory.strip()
    if withdrawn_on != "unchanged":
        changes["withdrawn_on"] = check_date("withdrawal date", withdrawn_on, changes.get("given_on", consent.given_on),
                                             date.today())
    return amend(s, actor, consent, "consent", consent.client_id, changes, reason)


def has_consent(client: Client, kind: str, day: date | None = None) -> bool:
    day = day or date.today()
    return any(c.kind == kind and c.current_on(day) for c in client.consents)


# --- courses and sessions ---------------------------------------------------------

def start_course(s: DbSession, actor: Actor, client_id: int, treatment: str, areas: list[str], planned_sessions: int,
                 interval_days: int, started_on: date, override_reason: str | None = None) -> Course:
    """Start a course of treatment; refuses while a contraindication is open, unless overridden with a reason."""
    client = _get(s, Client, client_id, actor, "correct")
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
                    override_by=actor_name(actor) if found else None)
    s.add(course)
    s.flush()
    audit(s, actor, "create", "course", course.id, client.id, overridden=bool(found))
    return course


def get_course(s: DbSession, viewer: Actor, course_id: int, action: str = "view") -> Course:
    """A course of a client ``viewer`` may see (else NotFound)."""
    return _get(s, Course, course_id, viewer, action)


def set_course_status(s: DbSession, actor: Actor, course_id: int, status: str, reason: str) -> list[str]:
    """Mark a course planned, active, completed or stopped, with the reason kept in its history."""
    if status not in COURSE_STATUSES:
        raise RecordError(f"course status is one of {', '.join(COURSE_STATUSES)}")
    course = _get(s, Course, course_id, actor, "correct")
    return amend(s, actor, course, "course", course.client_id, {"status": status}, reason)


def next_due(course: Course) -> date | None:
    """When the course's next session is due: the start, then the last session plus the interval.

    None when no session is due: the course is not active, or every planned session is done.
    """
    if course.status != "active" or len(course.sessions) >= course.planned_sessions:
        return None
    if not course.sessions:
        return course.started_on
    return max(x.held_on for x in course.sessions) + timedelta(days=course.interval_days)


@dataclass(frozen=True)
class DueCourse:
    client_id: int
    client_name: str
    course_id: int
    treatment: str
    sessions_done: int
    planned_sessions: int
    due_on: date
    days_overdue: int  # negative: due in that many days


def due_courses(s: DbSession, viewer: Actor, today: date | None = None, within_days: int = 7) -> list[DueCourse]:
    """Active courses of the clients ``viewer`` sees whose next session is due by ``today + within_days``,
    most overdue first."""
    check(s, viewer, "view")
    today = today or date.today()
    found = []
    for course in s.scalars(select(Course).join(Client, Course.client_id == Client.id)
                            .where(Course.status == "active", visible_clients(viewer))):
        due = next_due(course)
        if due is not None and due <= today + timedelta(days=within_days):
            found.append(DueCourse(course.client_id, course.client.name, course.id, course.treatment,
                                   len(course.sessions), course.planned_sessions, due, (today - due).days))
    return sorted(found, key=lambda d: (d.due_on, d.client_name))


@dataclass(frozen=True)
class RecallHit:
    client_id: int
    client_name: str
    contact: str
    course_id: int
    session_id: int
    session_number: int
    held_on: date
    product: str
    batch: str
    expiry: date | None


def batch_recall(s: DbSession, actor: Actor, batch: str) -> list[RecallHit]:
    """Every client ``actor`` sees and session that received a product batch (exact batch, case and spaces
    ignored)."""
    check(s, actor, "view")
    wanted = batch.strip().lower()
    if not wanted:
        raise RecordError("name the batch to recall")
    rows = s.execute(select(ProductUse, Session, Course, Client).join(Session, ProductUse.session_id == Session.id)
                     .join(Course, Session.course_id == Course.id).join(Client, Course.client_id == Client.id)
                     .where(func.lower(func.trim(ProductUse.batch)) == wanted, visible_clients(actor))
                     .order_by(Client.name, Client.id, Session.held_on))
    hits = [RecallHit(client.id, client.name, client.contact, course.id, ses.id, ses.number, ses.held_on,
                      use.product, use.batch, use.expiry) for use, ses, course, client in rows]
    for client_id in dict.fromkeys(h.client_id for h in hits):
        audit(s, actor, "view", "client", client_id, client_id, purpose="batch recall")
    return hits


def _session_warnings(course: Course, held_on: date, number: int, others: list[Session]) -> list[str]:
    """What is unusual about a session numbered ``number`` on ``held_on`` among the course's ``others``."""
    warnings = []
    if course.status != "active":
        warnings.append(f"the course is {course.status}")
    if number > course.planned_sessions:
        warnings.append(f"the course plans {course.planned_sessions} sessions and this would be session {number}")
    before = [x for x in others if x.number < number and x.held_on > held_on]
    after = [x for x in others if x.number > number and x.held_on < held_on]
    if before or after:
        warnings.append(f"{held_on.isoformat()} is out of date order with session "
                        f"{(before or after)[0].number} on {(before or after)[0].held_on.isoformat()}")
    if held_on > date.today():
        warnings.append(f"{held_on.isoformat()} is in the future")
    return warnings


def _check_products(products, held_on: date) -> None:
    for product in products:
        check_date(f"{product['product']} expiry", product.get("expiry"), EARLIEST_BIRTH)
        if product.get("expiry") and product["expiry"] < held_on:
            raise RecordError(f"{product['product']} batch {product['batch']} expired on {product['expiry']}")


def add_session(s: DbSession, actor: Actor, course_id: int, held_on: date, practitioner: str, technique: str,
                areas: list[str] = (), products: list[dict] = (), anaesthetic: str = "", notes: str = "",
                immediate_reactions: str = "", aftercare: str = "", confirmed: bool = False) -> Session:
    """Record a treatment session; products are dicts with product, batch, expiry, volume_ml.

    A session beyond the planned count, out of date order or in the future
    raises NeedsConfirmation unless ``confirmed``; the same session (course,
    date, practitioner, technique, products) recorded again within
    DUPLICATE_WINDOW raises DuplicateRecord, confirmed or not.
    """
    course = _get(s, Course, course_id, actor, "correct")
    if technique not in TECHNIQUES:
        raise RecordError(f"technique is one of {', '.join(TECHNIQUES)}")
    if held_on is None:
        raise RecordError("a session needs its date")
    check_date("session date", held_on, course.started_on)
    _check_products(products, held_on)
    if not practitioner.strip():
        raise RecordError("a session needs its practitioner")
    others = list(course.sessions)
    used = sorted((p["product"], p["batch"]) for p in products)
    for other in others:
        recent = other.recorded_at is not None and utcnow() - _aware(other.recorded_at) < DUPLICATE_WINDOW
        if recent and (other.held_on, other.practitioner, other.technique) == (held_on, practitioner, technique) \
                and sorted((p.product, p.batch) for p in other.products) == used:
            raise DuplicateRecord(f"session {other.number} of this course, on {held_on.isoformat()}, was recorded "
                                  "moments ago with the same details: not recorded twice")
    number = (s.scalar(select(func.max(Session.number)).where(Session.course_id == course.id)) or 0) + 1
    warnings = _session_warnings(course, held_on, number, others)
    if warnings and not confirmed:
        raise NeedsConfirmation(warnings)
    session = Session(course=course, number=number, held_on=held_on, practitioner=practitioner,
                      technique=technique, areas=list(areas), anaesthetic=anaesthetic, notes=notes,
                      immediate_reactions=immediate_reactions, aftercare=aftercare,
                      products=[ProductUse(**p) for p in products])
    s.add(session)
    s.flush()
    audit(s, actor, "create", "session", session.id, course.client_id, confirmed=bool(warnings))
    return session


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


SESSION_FIELDS = ("held_on", "practitioner", "technique", "areas", "anaesthetic", "notes", "immediate_reactions",
                  "aftercare")


def amend_session(s: DbSession, actor: Actor, session_id: int, reason: str, products: list[dict] | None = None,
                  confirmed: bool = False, **changes) -> list[str]:
    """Correct a session (any of SESSION_FIELDS, and its products when given); returns the fields changed.

    A new date out of order or in the future needs ``confirmed``, as when recording.
    """
    session = _get(s, Session, session_id, actor, "correct")
    unknown = set(changes) - set(SESSION_FIELDS)
    if unknown:
        raise RecordError(f"unknown session field {', '.join(sorted(unknown))}; known: {', '.join(SESSION_FIELDS)}")
    if "technique" in changes and changes["technique"] not in TECHNIQUES:
        raise RecordError(f"technique is one of {', '.join(TECHNIQUES)}")
    if "practitioner" in changes and not changes["practitioner"].strip():
        raise RecordError("a session needs its practitioner")
    if "areas" in changes:
        changes["areas"] = list(changes["areas"])
    held_on = changes.get("held_on", session.held_on)
    if held_on is None:
        raise RecordError("a session needs its date")
    check_date("session date", held_on, session.course.started_on)
    if "held_on" in changes and changes["held_on"] != session.held_on:
        others = [x for x in session.course.sessions if x.id != session.id]
        warnings = [w for w in _session_warnings(session.course, held_on, session.number, others)
                    if "plans" not in w and "the course is" not in w]
        if warnings and not confirmed:
            raise NeedsConfirmation(warnings)
    extra = None
    if products is not None:
        _check_products(products, held_on)
        old = [{k: _jsonable(getattr(p, k)) for k in ("product", "batch", "expiry", "volume_ml")}
               for p in session.products]
        if old != [{k: _jsonable(p.get(k)) for k in ("product", "batch", "expiry", "volume_ml")} for p in products]:
            extra = {"products": old}
            session.products = [ProductUse(**p) for p in products]
    return amend(s, actor, session, "session", session.course.client_id, changes, reason, extra)


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


def get_session(s: DbSession, viewer: Actor, session_id: int, action: str = "view") -> Session:
    """A session of a client ``viewer`` may see (else NotFound)."""
    return _get(s, Session, session_id, viewer, action)


# --- clinician scores -------------------------------------------------------------

def _hexsel_items(scores: dict, complete: bool) -> dict:
    """The Hexsel items of ``scores`` checked: known names, each a whole number 0 to 3, all five if ``complete``."""
    unknown = set(scores) - set(HEXSEL_ITEMS)
    if unknown:
        raise RecordError(f"unknown Hexsel item {', '.join(sorted(unknown))}; known: {', '.join(HEXSEL_ITEMS)}")
    missing = [HEXSEL_ITEMS[k].label.lower() for k in HEXSEL_ITEMS if k not in scores or scores[k] is None]
    if complete and missing:
        raise RecordError(f"score every item of the Hexsel scale: {', '.join(missing)} missing")
    for key, value in scores.items():
        if isinstance(value, bool) or not isinstance(value, int) or value not in range(4):
            raise RecordError(f"{HEXSEL_ITEMS[key].label}: {value!r} is not a score; each item is a whole number "
                              "0 to 3")
    return scores


def record_hexsel(s: DbSession, actor: Actor, session_id: int, **scores) -> HexselScore:
    """Record a session's Hexsel Cellulite Severity Scale, its five items (:data:`HEXSEL_ITEMS`) each 0 to 3.

    A session has one score; correct it with :func:`amend_hexsel`.
    """
    session = _get(s, Session, session_id, actor, "correct")
    if session.hexsel is not None:
        raise DuplicateRecord(f"session {session.number} already has a Hexsel score: correct it instead")
    score = HexselScore(session=session, scored_by=actor_name(actor), **_hexsel_items(scores, complete=True))
    s.add(score)
    s.flush()
    audit(s, actor, "create", "hexsel", score.id, session.course.client_id, session_id=session.id)
    return score


def amend_hexsel(s: DbSession, actor: Actor, session_id: int, reason: str, **scores) -> list[str]:
    """Correct a session's Hexsel score (any of its items); the previous values are kept. Returns the items changed."""
    session = _get(s, Session, session_id, actor, "correct")
    if session.hexsel is None:
        raise NotFound(f"session {session.number} has no Hexsel score to correct")
    return amend(s, actor, session.hexsel, "hexsel", session.course.client_id, _hexsel_items(scores, False), reason)
