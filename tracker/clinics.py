"""The clinics of a group: add and list them, and choose a new client's clinic.

A new data folder has one clinic, "Main clinic" (migration 0005), so a single
clinic needs no setup. Which clients a viewer sees is decided in
:mod:`tracker.access` (:func:`~tracker.access.visible_clients`).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .access import Viewer, check
from .errors import NotFound, RecordError
from .models import AuditEvent, Client, Clinic, User, clinic_staff


def add_clinic(s: Session, by: Viewer | str, name: str) -> Clinic:
    """Add a clinic to the group; only an admin may."""
    by = check(s, by, "manage_staff")
    name = name.strip()
    if not name or not name.isprintable() or len(name) > 200:
        raise RecordError("a clinic's name is one line of text, 1 to 200 characters")
    if s.scalar(select(Clinic.id).where(Clinic.name == name)) is not None:
        raise RecordError(f"clinic {name!r} already exists")
    clinic = Clinic(name=name)
    s.add(clinic)
    s.flush()
    s.add(AuditEvent(actor=by.name, action="create", entity="clinic", entity_id=clinic.id, clinic_id=clinic.id))
    return clinic


def list_clinics(s: Session, viewer: Viewer | str) -> list[Clinic]:
    """The clinics ``viewer`` sees, by name: every clinic for an admin, their own for a practitioner."""
    viewer = check(s, viewer, "view")
    query = select(Clinic).order_by(Clinic.name, Clinic.id)
    if not viewer.sees_every_clinic:
        query = query.where(Clinic.id.in_(sorted(viewer.clinics)))
    return list(s.scalars(query))


def clinic_summary(s: Session, viewer: Viewer | str) -> list[tuple[Clinic, int, int]]:
    """Each clinic ``viewer`` sees, with its numbers of clients and of active staff."""
    clients = dict(s.execute(select(Client.clinic_id, func.count(Client.id)).group_by(Client.clinic_id)).all())
    staff = dict(s.execute(select(clinic_staff.c.clinic_id, func.count()).join(User, User.id == clinic_staff.c.user_id)
                           .where(User.active.is_(True)).group_by(clinic_staff.c.clinic_id)).all())
    return [(c, clients.get(c.id, 0), staff.get(c.id, 0)) for c in list_clinics(s, viewer)]


def clinic_count(s: Session) -> int:
    """How many clinics the group has (one: the pages need not name it)."""
    return s.scalar(select(func.count(Clinic.id)))


def get_clinic(s: Session, viewer: Viewer | str, clinic_id: int) -> Clinic:
    """A clinic ``viewer`` sees; another is "not found", like a missing one."""
    clinic = next((c for c in list_clinics(s, viewer) if c.id == clinic_id), None)
    if clinic is None:
        raise NotFound(f"no clinic with id {clinic_id}")
    return clinic


def clinic_for_new_client(s: Session, viewer: Viewer | str, clinic_id: int | None = None) -> Clinic:
    """The clinic a new client joins: the one chosen, else the viewer's only clinic.

    A viewer who sees several clinics must choose: the error names them.
    """
    if clinic_id is not None:
        return get_clinic(s, viewer, clinic_id)
    mine = list_clinics(s, viewer)
    if len(mine) == 1:
        return mine[0]
    if not mine:
        raise RecordError("you work in no clinic: ask an admin to add you to one")
    raise RecordError("choose the client's clinic: " + ", ".join(f"{c.name!r} (#{c.id})" for c in mine))
