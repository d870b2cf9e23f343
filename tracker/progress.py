"""A course's progress: each session's metric changes since the baseline, with their noise bounds."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session as DbSession

from .models import Course, Photo
from .photos import latest_analysis


@dataclass(frozen=True)
class ProgressRow:
    session: int
    held_on: str
    view: str
    photo_id: int
    status: str  # "baseline", "compared", "not analysed", or the analysis error code
    comparable: bool | None = None
    reasons: list[str] = field(default_factory=list)
    values: dict = field(default_factory=dict)  # metric -> value at this session
    change: dict = field(default_factory=dict)  # metric -> change since baseline
    noise: dict = field(default_factory=dict)
    beyond_noise: dict = field(default_factory=dict)


def course_progress(s: DbSession, course: Course) -> list[ProgressRow]:
    """One row per photo of the course, in session order."""
    rows = []
    for session in course.sessions:
        for photo in session.photos:
            found = latest_analysis(photo)
            common = dict(session=session.number, held_on=session.held_on.isoformat(), view=photo.view,
                          photo_id=photo.id)
            if found is None:
                rows.append(ProgressRow(status="not analysed", **common))
            elif found.error_code:
                rows.append(ProgressRow(status=found.error_code, reasons=[found.error_message], **common))
            elif "change" not in found.result:
                rows.append(ProgressRow(status="baseline", values=found.result["metrics"], **common))
            else:
                r = found.result
                rows.append(ProgressRow(status="compared", comparable=r["alignment"]["comparable"],
                                        reasons=r["alignment"]["reasons"], values=r["metrics"],
                                        change=r["change"], noise=r["noise"], beyond_noise=r["beyond_noise"],
                                        **common))
    return rows


def summary(row: ProgressRow, metric: str, label: str) -> str:
    """A plain-language line, e.g. 'redness down 12% since baseline, beyond measurement noise'."""
    change, noise = row.change.get(metric), row.noise.get(metric)
    if change is None:
        return f"{label}: not measured"
    relative = ""
    base = row.values.get(metric) - change if row.values.get(metric) is not None else None
    if base:
        relative = f" {abs(100 * change / base):.0f}%"
    direction = "up" if change > 0 else "down"
    verdict = ("beyond measurement noise" if row.beyond_noise.get(metric)
               else "within measurement noise" if noise is not None else "noise unknown")
    return f"{label} {direction}{relative} since baseline ({change:+.2f}, noise +-{noise:.2f}), {verdict}" \
        if noise is not None else f"{label} {direction}{relative} since baseline, {verdict}"



def region_changes(s: DbSession, photo_id: int) -> dict:
    """Per region, each metric's change since baseline for one photo ({} if not compared)."""
    found = latest_analysis(s.get(Photo, photo_id))
    return found.result.get("region_change", {}) if found and found.result else {}
