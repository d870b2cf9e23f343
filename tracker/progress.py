"""A course's progress, and what of it may be shown.

Every place that shows a result (the Progress page, the client portal, the
PDF report, ``python -m tracker course show``) asks this module, never the raw
analysis result, so the rule is kept in one place: **a change is shown only
from a comparable pair, with its 95 % noise bound**. Otherwise it is shown as
"not comparable" or "not measured" with the reason, in the engine's words for
staff and in a plain sentence (:data:`analysis.reasons.CODES`) for a client.

Per region, the region's own verdict (``region_verdict``) decides: a forehead
can stay comparable when only the mouth moved. Results without per-region
verdicts follow the pair's verdict.

Hair-loss and cellulite photos show their area's own measures
(:func:`tracker.templates.view_spec`: the part's width only on the midline-part
view); a measure the engine refused (hair too like the scalp, the light's
direction changed) shows its reason, never a number. The clinician's Hexsel
score is a record, not a measurement: it is shown as scored, session by
session (:func:`hexsel_scores`), without a noise verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import selectinload

from analysis.metrics import (MEAN_IPD_MM, MIN_SPOT_PX_PER_MM, MIN_TEXTURE_PX_PER_MM, REGISTRY, Metric,
                              area_metrics)
from analysis.pipeline import SCALE_MARGIN, eyes_needed_px
from analysis.reasons import CODES, face_small, plain_reason
from analysis.regions import REGIONS

from .access import Viewer, as_viewer, check
from .models import HEXSEL_ITEMS, Course, Photo, Session
from .photos import latest_analysis
from .templates import view_spec

BEYOND, WITHIN, NOT_COMPARABLE, NOT_MEASURED = "beyond noise", "within noise", "not comparable", "not measured"
#: The status of a row a client is not shown: the engine judged its photo to show someone else.
WITHHELD = "withheld"
#: Face and skin metrics shown in summaries and charts, in the registry's order.
SUMMARY = tuple(m for m in REGISTRY.values() if m.summary and m.area is None)
SKIN_METRICS = area_metrics(None)
REGION_LABELS = {"forehead": "Forehead", "left_cheek": "Left cheek", "right_cheek": "Right cheek", "chin": "Chin",
                 "periorbital": "Around the eyes"}
#: Pixels per mm of skin each metric needs (others need none): below it the engine leaves it unmeasured.
_RESOLUTION_NEEDED = {"texture_roughness": MIN_TEXTURE_PX_PER_MM, "line_density_pct": MIN_TEXTURE_PX_PER_MM,
                      "spot_count": MIN_SPOT_PX_PER_MM, "spot_area_pct": MIN_SPOT_PX_PER_MM}
_MINUS = "\u2212"
#: The clinician's Hexsel total, as the registry names it.
HEXSEL = REGISTRY["hexsel_total"]
#: Reasons an area measure's change is withheld that are about the pair, not either photo.
PAIR_REFUSALS = {"light_direction"}


def reason(code: str, message: str) -> dict:
    return {"code": code, "message": message}


def as_reason(raw) -> dict:
    """A stored reason as ``{"code", "message"}``; the old engine's plain strings count as alignment reasons."""
    return dict(raw) if isinstance(raw, dict) else reason("alignment", str(raw))


def _blocking(reasons: list[dict]) -> list[dict]:
    """The reasons that stop a comparison (unknown codes block: better silent than wrong)."""
    found = [r for r in reasons if r["code"] not in CODES or CODES[r["code"]].blocking]
    return found or reasons or [reason("not_comparable", "the pair was judged not comparable")]


def _number(value: float, digits: int = 2) -> str:
    """A signed number with a real minus sign."""
    return f"{value:+.{digits}f}".replace("-", _MINUS)


def reason_text(reasons, plain: bool) -> str:
    """Reasons joined into one phrase: plain sentences for a client, the engine's messages for staff."""
    said = [plain_reason(r) if plain else r["message"] for r in reasons]
    return "; ".join(dict.fromkeys(said))


@dataclass(frozen=True)
class ShownChange:
    """One metric's change since the baseline as it may be shown: a number with its bound, or the reason why not.

    ``change`` and ``bound`` are set only when ``verdict`` is :data:`BEYOND` or
    :data:`WITHIN`; otherwise ``reasons`` says why there is no number.
    """

    metric: Metric
    verdict: str
    change: float | None = None
    bound: float | None = None
    percent: float | None = None  # |change| in % of the baseline value, when that is meaningful
    reasons: tuple = ()

    def __post_init__(self):
        if self.shown != (self.change is not None and self.bound is not None):
            raise ValueError("a change is shown with its bound, and only from a comparable pair")
        if not self.shown and not self.reasons:
            raise ValueError("a change that is not shown needs a reason")

    @property
    def shown(self) -> bool:
        return self.verdict in (BEYOND, WITHIN)

    def figure(self, unit: bool = True) -> str:
        """``"−1.23 ± 0.20 a*"``, or the verdict when there is no number."""
        if not self.shown:
            return self.verdict
        return f"{_number(self.change)} ± {self.bound:.2f}" + (f" {self.metric.unit}" if unit else "")

    def cell(self) -> str:
        """For tables: the figure with ``*`` when beyond noise, else the verdict."""
        return self.figure(unit=False) + (" *" if self.verdict == BEYOND else "")

    def why(self, plain: bool) -> str:
        return reason_text(self.reasons, plain)

    def sentence(self, plain: bool = False) -> str:
        """A plain-language line: ``redness down 12% since baseline (−1.23 ± 0.20 a*), beyond measurement noise``."""
        word = self.metric.word
        if not self.shown:
            return f"{word}: {self.verdict}, because {self.why(plain)}"
        direction = "up" if self.change > 0 else "down"
        relative = f" {self.percent:.0f}%" if self.percent is not None and self.percent >= 0.5 else ""
        since = "since the first session" if plain else "since baseline"
        figure = "" if plain else f" ({self.figure()})"
        verdict = "beyond measurement noise" if self.verdict == BEYOND else "within measurement noise: may not be real"
        return f"{word} {direction}{relative} {since}{figure}, {verdict}"

    def to_dict(self, plain: bool = False) -> dict:
        out = {"verdict": self.verdict, "unit": self.metric.unit}
        if self.shown:
            out.update(change=self.change, bound=self.bound)
        else:
            out["reasons"] = [plain_reason(r) for r in self.reasons] if plain else list(self.reasons)
        return out


@dataclass(frozen=True)
class ProgressRow:
    """One photo of a course, with what may be shown of its comparison with the baseline."""

    session: int
    held_on: date
    view: str
    photo_id: int
    status: str  # "baseline", "compared", "not analysed", WITHHELD, or the analysis error code
    comparable: bool | None = None
    reasons: tuple = ()  # why the pair is not comparable ({"code", "message"}), or why there is no analysis
    values: dict = field(default_factory=dict)  # the baseline's own measurements (baseline rows only)
    metrics: tuple = SKIN_METRICS  # what this photo's view measures (tracker.templates.view_spec)
    session_id: int | None = None
    _result: dict = field(default_factory=dict, repr=False)

    @property
    def other_person(self) -> bool:
        """Whether the engine judged this photo to show someone other than the baseline's person."""
        return any(r["code"] == "different_person" for r in self.reasons)

    @property
    def summary(self) -> tuple[Metric, ...]:
        """The metrics of this photo shown in summaries and charts."""
        return tuple(REGISTRY[m] for m in self.metrics if REGISTRY[m].summary)

    @property
    def area(self) -> str | None:
        return REGISTRY[self.metrics[0]].area if self.metrics else None

    @property
    def matrix(self) -> list | None:
        """The alignment of the photo onto its baseline (3 x 3 for body areas), when it was compared."""
        return self._result.get("alignment", {}).get("matrix")

    def scale_note(self) -> str | None:
        """For a hair-loss or cellulite photo: how its millimetres are known (a printed marker, or nominal), and
        where its noise bands come from (no real repeated scalp or thigh photos were available to calibrate them)."""
        scale = self._result.get("scale", {})
        if self.area is None or not scale:
            return None
        if scale.get("nominal"):
            how = ("the scale is nominal: no printed marker was found in the baseline photo, so millimetres are "
                   "assumed, not measured (changes between sessions are still like for like)")
        else:
            how = f"the scale comes from the printed {scale.get('marker_mm', 0):g} mm marker in the photos"
        return how + ("; the noise bands come from simulated re-captures of rendered images, not yet from real "
                      "repeated photos")

    def change(self, metric: str) -> ShownChange:
        """The overall change of ``metric`` since baseline, as it may be shown."""
        m = REGISTRY[metric]
        if not self.comparable:
            return ShownChange(m, NOT_COMPARABLE, reasons=self._why_not())
        r = self._result
        if r.get("area") != m.area:  # analysed before its course measured this area's own measures
            return ShownChange(m, NOT_MEASURED, reasons=(reason(
                "noise_unknown", f"this photo was analysed without the {m.area or 'skin'} measures: analyse it "
                                 "again"),))
        refused = r.get("change_refused", {}).get(metric)
        if refused is not None:  # the light's direction changed (the pair); hair too like the scalp, no part...
            verdict = NOT_COMPARABLE if refused.get("code") in PAIR_REFUSALS else NOT_MEASURED
            return ShownChange(m, verdict, reasons=(as_reason(refused),))
        return _shown(m, r["change"].get(metric), r["noise"].get(metric), r["beyond_noise"].get(metric),
                      r.get("reference_metrics", {}).get(metric), self._missing(metric, "the photos"))

    def regions(self) -> list[str]:
        return [name for name in REGIONS if name in self._result.get("region_change", {})]

    def region_verdict(self, region: str) -> tuple[bool, tuple]:
        """Whether a region is comparable, and why not: its own verdict, else the pair's."""
        if self.status != "compared":
            return False, self._why_not()
        verdict = self._result.get("region_verdict", {}).get(region)
        if verdict is None:
            return bool(self.comparable), self.reasons
        identity = tuple(r for r in self.reasons if r["code"] == "different_person")
        if identity:  # a different person is never comparable in any region
            return False, identity
        if verdict["comparable"]:
            return True, ()
        return False, tuple(_blocking([as_reason(x) for x in verdict.get("reasons", [])]))

    def region_change(self, region: str, metric: str) -> ShownChange:
        """A region's change of ``metric`` since baseline, as the region's verdict allows."""
        m = REGISTRY[metric]
        comparable, why = self.region_verdict(region)
        if not comparable:
            return ShownChange(m, NOT_COMPARABLE, reasons=why)
        r = self._result
        change = r.get("region_change", {}).get(region, {}).get(metric)
        if "region_noise" not in r:
            return ShownChange(m, NOT_MEASURED, reasons=(reason(
                "noise_unknown", "this analysis has no noise bound per region: analyse the photo again"),))
        return _shown(m, change, r["region_noise"].get(region, {}).get(metric),
                      r.get("region_beyond_noise", {}).get(region, {}).get(metric),
                      r.get("reference_regions", {}).get(region, {}).get(metric),
                      self._missing(metric, "this area"))

    def _why_not(self) -> tuple:
        return self.reasons or (reason("not_comparable", "the baseline is not compared with itself"),)

    def _missing(self, metric: str, where: str) -> dict:
        """Why a metric has no value in a comparable pair: the face too small for it, or too little skin."""
        needed_px_per_mm = _RESOLUTION_NEEDED.get(metric)
        if needed_px_per_mm is not None:
            if needed_px_per_mm == MIN_TEXTURE_PX_PER_MM:  # the engine's own face_small warning is about texture
                for w in self._result.get("quality", {}).get("warnings", []):
                    if isinstance(w, dict) and w.get("code") == "face_small":
                        return dict(w)
            px_per_mm = self._result.get("scale", {}).get("px_per_mm")
            if px_per_mm is not None and px_per_mm < needed_px_per_mm:
                # The analysis frame is SCALE_MARGIN of the smaller face (analysis.pipeline._analysis_iod).
                return face_small(px_per_mm * MEAN_IPD_MM / SCALE_MARGIN, eyes_needed_px(needed_px_per_mm),
                                  REGISTRY[metric].word).to_dict()
        return reason("too_little_skin", f"too little usable skin in {where} to measure "
                                         f"{REGISTRY[metric].word} and its noise")

    def to_dict(self, plain: bool = False) -> dict:
        """For ``course show --json``: the row with each metric as it may be shown."""
        out = {"session": self.session, "held_on": self.held_on.isoformat(), "view": self.view,
               "photo_id": self.photo_id, "status": self.status, "comparable": self.comparable}
        if self.reasons:
            out["reasons"] = [plain_reason(r) for r in self.reasons] if plain else list(self.reasons)
        if self.status == "baseline":
            out["values"] = {m: self.values.get(m) for m in self.metrics}
            refused = self._result.get("refused", {})
            if any(m in refused for m in self.metrics):
                out["refused"] = {m: plain_reason(refused[m]) if plain else refused[m]
                                  for m in self.metrics if m in refused}
        if self.status == "compared":
            out["change"] = {m: self.change(m).to_dict(plain) for m in self.metrics}
            out["regions"] = {g: {m: self.region_change(g, m).to_dict(plain) for m in self.metrics}
                              for g in self.regions()}
        note = self.scale_note()
        if note:
            out["scale"] = {"nominal": bool(self._result["scale"].get("nominal")), "note": note}
        return out


def _shown(m: Metric, change, bound, beyond, base, missing: dict) -> ShownChange:
    if change is None:
        return ShownChange(m, NOT_MEASURED, reasons=(missing,))
    if bound is None:  # measured, but the engine has no noise floor for it calibrated on real photos
        return ShownChange(m, NOT_MEASURED, reasons=(reason(
            "noise_uncalibrated", f"{m.word} has no noise bound calibrated on real repeated photos yet, "
                                  "so no change is claimed"),))
    if beyond is None:
        beyond = abs(change) > bound
    percent = abs(100 * change / base) if base and m.unit not in ("degrees", "count") else None
    return ShownChange(m, BEYOND if beyond else WITHIN, change, bound, percent)


def course_progress(s: DbSession, viewer: Viewer | str, course: Course) -> list[ProgressRow]:
    """One row per photo of the course, in session order, as ``viewer`` may see it.

    A photo the engine judged to show someone else is never shown to a client, nor are its results: its row
    is :data:`WITHHELD`, saying only that the clinic is checking it. Staff see it, flagged
    (:attr:`ProgressRow.other_person`).
    """
    check(s, viewer, "view", course.client)
    rows = _rows(s, course)
    if as_viewer(viewer).is_staff:
        return rows
    return [_withheld(r) if r.other_person else r for r in rows]


def _withheld(row: ProgressRow) -> ProgressRow:
    checking = reason("photo_under_review", "this photo is being checked before it is shown")
    return ProgressRow(session=row.session, held_on=row.held_on, view=row.view, photo_id=row.photo_id,
                       session_id=row.session_id, status=WITHHELD, comparable=False, metrics=row.metrics,
                       reasons=(checking,))


def photo_hashes(course: Course, rows: list[ProgressRow]) -> dict[int, str]:
    """The stored hash of each photo that ``rows`` (:func:`course_progress`) let be shown: never a withheld
    one's, so a page cannot load its pixels."""
    shown = {r.photo_id for r in rows if r.status != WITHHELD}
    return {p.id: p.sha256 for ses in course.sessions for p in ses.photos if p.id in shown}


def _rows(s: DbSession, course: Course) -> list[ProgressRow]:
    # Sessions, photos and analyses in three queries, not one per session and photo (bench/bench_group.py).
    sessions = s.scalars(select(Session).where(Session.course_id == course.id).order_by(Session.number)
                         .options(selectinload(Session.photos).selectinload(Photo.analyses))).all()
    rows = []
    for session in sessions:
        for photo in session.photos:
            found = latest_analysis(photo)
            common = dict(session=session.number, session_id=session.id, held_on=session.held_on, view=photo.view,
                          photo_id=photo.id, metrics=view_spec(course, photo.view)[1])
            if found is None:
                rows.append(ProgressRow(status="not analysed", comparable=False, reasons=(
                    reason("not_analysed", "the photo is not analysed yet"),), **common))
            elif found.error_code:
                rows.append(ProgressRow(status=found.error_code, comparable=False,
                                        reasons=(reason(found.error_code, found.error_message or ""),), **common))
            elif "change" not in found.result:
                rows.append(ProgressRow(status="baseline", values=found.result["metrics"], _result=found.result,
                                        **common))
            else:
                r = found.result
                comparable = bool(r["alignment"]["comparable"])
                reasons = [as_reason(x) for x in r["alignment"]["reasons"]]
                rows.append(ProgressRow(status="compared", comparable=comparable,
                                        reasons=() if comparable else tuple(_blocking(reasons)), _result=r,
                                        **common))
    return rows


@dataclass(frozen=True)
class Series:
    """One metric across a course: the baseline's date, the shown changes by date, and what was left out."""

    metric: Metric
    start: date | None
    points: tuple  # (date, ShownChange) for each comparable session with a number
    left_out: tuple  # (session number, date, ShownChange) for compared sessions without one

    def note(self, plain: bool = False) -> str | None:
        """Why the chart is empty or has gaps, from the results (never a guess)."""
        if not self.left_out:
            return None if self.points else f"{self.metric.word} has no later session to compare yet"
        why = reason_text([r for _, _, c in self.left_out for r in c.reasons], plain)
        if not self.points:
            verdicts = {c.verdict for _, _, c in self.left_out}
            state = "is not measured" if verdicts == {NOT_MEASURED} else "is not shown"
            return f"{self.metric.word} {state}: {why}"
        sessions = ", ".join(str(n) for n, _, _ in self.left_out)
        return f"session {sessions} left out: {why}"


def series(rows: list[ProgressRow], metric: str) -> Series:
    """The chart of one metric over rows of one view."""
    start = next((r.held_on for r in rows if r.status == "baseline"), None)
    points, left_out = [], []
    for r in rows:
        if r.status == "baseline":
            continue
        shown = r.change(metric)
        if shown.shown:
            points.append((r.held_on, shown))
        else:
            left_out.append((r.session, r.held_on, shown))
    return Series(REGISTRY[metric], start, tuple(points), tuple(left_out))


@dataclass(frozen=True)
class ClinicianScore:
    """A session's Hexsel Cellulite Severity Scale as the clinician scored it (:data:`HEXSEL_ITEMS`)."""

    session: int
    held_on: date
    items: dict  # item -> 0..3
    total: int
    scored_by: str

    @property
    def severity(self) -> str:
        """Hexsel 2009's grading of the total: 1-5 mild, 6-10 moderate, 11-15 severe."""
        return "none" if self.total == 0 else "mild" if self.total <= 5 else "moderate" if self.total <= 10 \
            else "severe"

    def to_dict(self) -> dict:
        return {"session": self.session, "held_on": self.held_on.isoformat(), "items": self.items,
                "total": self.total, "severity": self.severity}


def hexsel_scores(course: Course) -> list[ClinicianScore]:
    """The course's Hexsel scores, in session order (sessions without one are left out)."""
    return [ClinicianScore(x.number, x.held_on, {k: getattr(x.hexsel, k) for k in HEXSEL_ITEMS}, x.hexsel.total,
                           x.hexsel.scored_by) for x in course.sessions if x.hexsel is not None]
