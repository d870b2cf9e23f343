"""Each clinic's own noise floors, and the size of change it can see.

A change is shown as beyond measurement noise only when it exceeds its bound, and a bound is never smaller
than its *floor*: the repeatability of the clinic's capture, fitted on real no-change pairs
(:mod:`analysis.calibration`). The engine ships the floors of its own validation, from one studio; each
clinic's set-up differs, so a clinic fits its own with ``python -m analysis calibrate PAIRS.csv --out
FLOORS.json`` on pairs of its own photos between which nothing was done, and sets them here
(:func:`set_floors`, ``python -m tracker floors set``). Its analyses then use its floor wherever it has one
and the shipped floor elsewhere, and every analysis of its photos is run again.

The *detection limit* of a measure is its floor (:func:`detection_limits`): no pair's bound is below it, so a
smaller change can never be told from noise, and the pages say so where the numbers are.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession

from analysis import BadFloors, Floors, shipped_floors
from analysis.metrics import REGISTRY, Metric
from analysis.regions import REGIONS

from .access import Viewer, check
from .clinics import get_clinic
from .errors import RecordError
from .models import AuditEvent, Client, ClinicFloors, Course, Photo, PhotoAnalysis, Session, utcnow

#: The tier the limits are stated for: photos as a clinic takes them (analysis.noise.tier).
TIER = "clinic"
#: Scopes the measurement quality page lists: the whole face, then each region.
SCOPES = ("overall", *REGIONS)


def floors_of(s: DbSession, clinic_id: int) -> Floors | None:
    """The clinic's own floors, or None while it has set none (its analyses then use the shipped ones)."""
    row = s.get(ClinicFloors, clinic_id)
    return None if row is None else Floors.from_dict(row.floors)


def set_floors(s: DbSession, actor: Viewer, clinic_id: int, data: bytes) -> int:
    """Set a clinic's floors from a floors file's bytes (``python -m analysis calibrate``); only an admin may.
    Every analysis of the clinic's photos becomes stale, to be run again with them; returns how many."""
    check(s, actor, "calibrate")
    clinic = get_clinic(s, actor, clinic_id)
    try:
        floors = Floors.from_json(data.decode("utf-8"))
    except (BadFloors, UnicodeDecodeError) as exc:
        raise RecordError(f"not a floors file: {getattr(exc, 'message', 'not UTF-8 text')}") from None
    if not floors.floors:
        raise RecordError("the floors file holds no floor: calibrate on more no-change pairs")
    row = s.get(ClinicFloors, clinic.id) or ClinicFloors(clinic_id=clinic.id)
    row.floors, row.sha256 = floors.to_dict(), hashlib.sha256(data).hexdigest()
    row.set_at, row.set_by = utcnow(), actor.name
    s.add(row)
    s.add(AuditEvent(actor=actor.name, action="change", entity="clinic_floors", entity_id=clinic.id,
                     clinic_id=clinic.id, detail={"sha256": row.sha256, "floors": len(floors.floors)}))
    photo_ids = (select(Photo.id).join(Session).join(Course).join(Client, Course.client_id == Client.id)
                 .where(Client.clinic_id == clinic.id))
    stale = s.execute(update(PhotoAnalysis).where(PhotoAnalysis.photo_id.in_(photo_ids),
                                                  PhotoAnalysis.stale.is_(False)).values(stale=True))
    s.flush()
    return stale.rowcount


@dataclass(frozen=True)
class DetectionLimit:
    """The smallest change of ``metric`` in ``scope`` that can be told from noise, in the metric's unit, and
    where it comes from: ``source`` "clinic" (the clinic's own floor, fitted on ``n`` pairs with leave-one-out
    coverage ``loo_coverage``), "shipped" (the engine's validation), or None (no floor: no change is claimed)."""

    metric: Metric
    scope: str
    value: float | None
    source: str | None
    n: int | None = None
    loo_coverage: float | None = None
    missing: str | None = None  # why the clinic's own calibration has no floor here, if it says

    def sentence(self, plain: bool = False) -> str:
        """``"redness: changes smaller than 1.51 a* cannot be told from noise here (...)"``."""
        word = self.metric.word
        if self.value is None:
            return f"{word}: no change is claimed yet (no calibration on real repeated photos)"
        if plain:
            return f"changes in {word} smaller than {self.value:.1f} cannot be told apart from the ordinary " \
                   "differences between two photos"
        return f"{word}: changes smaller than {self.value:.2f} {self.metric.unit} cannot be told from noise " \
               f"here ({self.provenance()})"

    def provenance(self) -> str:
        if self.source == "clinic":
            coverage = "" if self.loo_coverage is None else f", leave-one-out coverage {100 * self.loo_coverage:.0f} %"
            return f"this clinic's floor, from {self.n} no-change pairs{coverage}"
        return "the engine's floor from its validation in one studio, not yet this clinic's own"


def summary(limits: list[DetectionLimit], plain: bool = False) -> str:
    """One sentence for where the numbers are: the limits grouped by where they come from, e.g. ``"Detection
    limits: redness 0.70 a* (this clinic's floor, ...); brightness 2.02 L* (the engine's floor ...). A smaller
    change cannot be told from noise here."``"""
    if plain:
        known = [f"{x.metric.word} smaller than {x.value:.1f}" for x in limits if x.value is not None]
        return ("Here, changes in " + ", ".join(known) + " cannot be told apart from the ordinary differences "
                "between two photos.") if known else ""
    groups: dict[str, list[str]] = {}
    for x in limits:
        if x.value is None:
            groups.setdefault("no calibration on real repeated photos", []).append(f"{x.metric.word}: none yet")
        else:
            groups.setdefault(x.provenance(), []).append(f"{x.metric.word} {x.value:.2f} {x.metric.unit}")
    said = "; ".join(f"{', '.join(figures)} ({where})" for where, figures in groups.items())
    return f"Detection limits: {said}. A smaller change cannot be told from noise here."


def limit(floors: Floors | None, metric: str, scope: str = "overall", tier: str = TIER) -> DetectionLimit:
    """The detection limit of ``metric`` in ``scope`` under a clinic's ``floors`` (None: the shipped ones)."""
    own = floors.get(tier, scope, metric) if floors is not None else None
    missing = floors.reason(tier, scope, metric) if floors is not None else None
    if own is not None:
        return DetectionLimit(REGISTRY[metric], scope, own.value, "clinic", own.n, own.loo_coverage)
    shipped = shipped_floors().get(tier, scope, metric)
    if shipped is None:
        return DetectionLimit(REGISTRY[metric], scope, None, None, missing=missing)
    return DetectionLimit(REGISTRY[metric], scope, shipped.value, "shipped", missing=missing)


def detection_limits(s: DbSession, viewer: Viewer, client: Client, metrics, scope: str = "overall"
                     ) -> list[DetectionLimit]:
    """The detection limits of ``metrics`` (names) in ``scope`` for ``client``'s photos, as ``viewer`` may see
    them (:func:`tracker.access.check`): their clinic's floors, else the shipped ones."""
    check(s, viewer, "view", client)
    floors = floors_of(s, client.clinic_id)
    return [limit(floors, m, scope) for m in metrics]


@dataclass(frozen=True)
class QualityRow:
    """One measure in one scope on the measurement quality page."""

    limit: DetectionLimit
    shipped: float | None


def quality(s: DbSession, viewer: Viewer, clinic_id: int, metrics) -> tuple[ClinicFloors | None, list[QualityRow]]:
    """For the measurement quality page: the clinic's floors record (None: none set) and, for each of
    ``metrics`` in each scope of :data:`SCOPES`, its detection limit beside the shipped floor."""
    check(s, viewer, "quality")
    clinic = get_clinic(s, viewer, clinic_id)
    floors = floors_of(s, clinic.id)
    shipped = shipped_floors()
    rows = []
    for scope in SCOPES:
        for m in metrics:
            found = shipped.get(TIER, scope, m)
            rows.append(QualityRow(limit(floors, m, scope), None if found is None else found.value))
    return s.get(ClinicFloors, clinic.id), rows
