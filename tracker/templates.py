"""Area templates: the views each treatment area expects, what each view needs, and how it is measured.

One registry (:data:`TEMPLATES`) says, for every area a course can treat,
which standard views a session photographs, what the client and the camera
must do for each (so that the next session can repeat it), the engine's
``area`` its photos are analysed with (``"scalp"`` for hair loss,
``"cellulite"``, else ``None``: skin colour and texture) and which of that
area's measures each view gives (the part's width only on the midline-part
view). The session page shows a course's templates as a checklist; the
analysis (:func:`tracker.photos.analyse_photo`) and the progress
(:mod:`tracker.progress`) ask :func:`view_spec` how to measure a photo.

A view's name is what a :class:`~tracker.models.Photo` stores; names are
unique across templates. Views typed by hand (a body area's name) still work:
they belong to no template and are measured as the course's area
(:func:`course_area`).
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis.metrics import area_metrics

from .models import Course


@dataclass(frozen=True)
class View:
    """One standard view of an area: its stored name, its label, what it needs, and the measures it gives."""

    name: str
    label: str
    needs: str
    metrics: tuple[str, ...] | None = None  # None: all the area's measures


@dataclass(frozen=True)
class Template:
    """What a course of one area photographs at every session, and how its photos are measured."""

    name: str
    label: str
    area: str | None  # the engine's area (analysis.analyse(area=...)); None: skin colour and texture
    needs: str  # for every view of the area
    views: tuple[View, ...]

    def metrics(self, view: str | None = None) -> tuple[str, ...]:
        """The measures a photo of ``view`` (of this template, or typed by hand) gives."""
        spec = next((v for v in self.views if v.name == view), None)
        if spec is not None and spec.metrics is not None:
            return spec.metrics
        return area_metrics(self.area) if self.area else area_metrics(None)


_HAIR = "hair dry, clean and combed, with the same parting as at the first session; the printed scale marker beside it"
_BODY = "the printed scale marker in frame beside the marked region"

TEMPLATES: dict[str, Template] = {t.name: t for t in (
    Template("face", "Face", None, "neutral expression, hair off the face, the same lights and distance", (
        View("front", "Front", "facing the camera, eyes level"),
        View("left_45", "Left 45°", "head turned 45° to show the left cheek"),
        View("right_45", "Right 45°", "head turned 45° to show the right cheek"),
    )),
    Template("hair loss", "Hair loss (scalp)", "scalp", _HAIR, (
        View("vertex", "Vertex", "from above the crown, camera level with the scalp", ("scalp_visible_pct",)),
        View("frontal_hairline", "Frontal hairline", "head tilted forward, hairline across the frame",
             ("scalp_visible_pct",)),
        View("midline_part", "Midline part", "parted in the midline, the part along the frame",
             ("scalp_visible_pct", "part_width_mm")),
        View("temporal_left", "Temporal, left", "left temple from the side, hair combed back", ("scalp_visible_pct",)),
        View("temporal_right", "Temporal, right", "right temple from the side, hair combed back",
             ("scalp_visible_pct",)),
    )),
    Template("cellulite", "Cellulite (thighs and buttocks)", "cellulite",
             "standing relaxed, muscles not tensed; light from above only, as at the first session; " + _BODY, (
                 View("posterior_thighs", "Posterior thighs and buttocks", "from behind, feet hip-width apart"),
                 View("lateral_left", "Lateral, left", "left side to the camera, arms raised clear of the hips"),
                 View("lateral_right", "Lateral, right", "right side to the camera, arms raised clear of the hips"),
             )),
    Template("neck", "Neck", None, "chin raised, shoulders relaxed, the same lights and distance", (
        View("neck_front", "Neck, front", "facing the camera, chin raised"),
        View("neck_left", "Neck, left", "head turned right to show the left side, chin raised"),
        View("neck_right", "Neck, right", "head turned left to show the right side, chin raised"),
    )),
    Template("decolletage", "Décolletage", None, "shoulders relaxed and level, arms by the sides", (
        View("decolletage_front", "Décolletage, front", "facing the camera, from the chin to below the breastbone"),
    )),
    Template("hands", "Hands", None, "hands flat on a dark cloth, fingers slightly apart, rings off", (
        View("left_hand_dorsal", "Left hand, back", "back of the left hand, from above"),
        View("right_hand_dorsal", "Right hand, back", "back of the right hand, from above"),
    )),
)}
#: Every template view by its stored name.
VIEWS: dict[str, tuple[Template, View]] = {v.name: (t, v) for t in TEMPLATES.values() for v in t.views}
#: Course treatments that decide the area whatever areas are ticked (tracker.models.TREATMENTS).
_BY_TREATMENT = {"hair loss": "hair loss", "cellulite/fat": "cellulite"}
#: Course areas (tracker.models.AREAS) and their templates; a scalp is photographed for hair loss.
_BY_AREA = {"face": "face", "neck": "neck", "decolletage": "decolletage", "hands": "hands", "scalp": "hair loss"}


def course_templates(course: Course) -> list[Template]:
    """The templates of a course: its treatment's (hair loss, cellulite), then one per area it treats."""
    names = [_BY_TREATMENT[course.treatment]] if course.treatment in _BY_TREATMENT else []
    names += [_BY_AREA[a] for a in course.areas if a in _BY_AREA]
    return [TEMPLATES[n] for n in dict.fromkeys(names)]


def course_area(course: Course) -> str | None:
    """The engine's area for a course's photos typed by hand: its one measured area (scalp, cellulite), if any."""
    areas = {t.area for t in course_templates(course) if t.area}
    return areas.pop() if len(areas) == 1 else None


def view_spec(course: Course, view: str) -> tuple[str | None, tuple[str, ...]]:
    """How a photo of ``view`` in ``course`` is measured: the engine's area and the measures it gives."""
    if view in VIEWS:
        template = VIEWS[view][0]
        return template.area, template.metrics(view)
    area = course_area(course)
    return area, (area_metrics(area) if area else area_metrics(None))


def view_label(view: str) -> str:
    """A view's label for people: the template's, else the name as typed."""
    return VIEWS[view][1].label if view in VIEWS else view


@dataclass(frozen=True)
class ChecklistItem:
    template: Template
    view: View
    captured: bool


def checklist(course: Course, captured: set[str]) -> list[ChecklistItem]:
    """The course's expected views, each marked captured when ``captured`` (this session's views) has it."""
    return [ChecklistItem(t, v, v.name in captured) for t in course_templates(course) for v in t.views]
