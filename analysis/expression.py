"""Facial expression from landmarks, and which skin regions an expression change spoils.

Skin metrics compare the same skin in two photos. A smile bunches the cheeks,
stretches the chin and folds the skin beside the eyes; raised brows fold the
forehead. Those changes move the skin's shading and colour as much as a
treatment would, so a region whose expression changed since the baseline is
not comparable, while a region the expression left alone still is: a
forehead stays comparable when only the mouth moved.

Measures
--------
Each is a distance between face-mesh landmarks in the face's own frame (eyes
level), divided by the inter-ocular distance (IOD), so it does not depend on
the photo's size or the head's roll. Changes are photo minus baseline, in
percent of the IOD.

``mouth_width``
    Distance between the mouth corners (landmarks 61 and 291).
``mouth_open``
    Gap between the inner lips at the midline (13 and 14).
``smile``
    How far the mouth corners sit above the midpoint of the lips' centre line
    (0 and 17): positive for a smile, negative for a frown.
``eye_open``
    Mean gap between the eyelids of both eyes (159-145 and 386-374).
``brow_raise``
    Mean height of the brows' middle (105, 334) above the eye centres.

These follow the geometric action-unit measures of facial expression
analysis [1]_: lip-corner puller (AU12) as smile and mouth width, jaw drop
(AU26) as mouth opening, lid tightener and cheek raiser (AU6/7) as eye
opening, brow raiser (AU1/2) as brow height.

Which region each measure spoils (:data:`SPOILS`) follows the muscles:
zygomaticus major (smile) lifts the cheeks and, in a full smile, the skin
below the eyes; jaw and lip movement stretches the chin; orbicularis oculi
folds the periorbital skin; frontalis folds the forehead.

The tolerances (:data:`TOLERANCE_IOD_PCT`) are 1.25 x sqrt(2) times the
99th percentile of each measure's change between a simulated re-capture and
its original (rotation up to 10 degrees, scale, exposure, white balance,
JPEG; 159 re-captures of the 53 neutral faces of faces-london: 2.7, 1.8, 1.9,
1.3 and 1.3 % of the IOD). The sqrt(2) is because a real pair is two
captures, each with its own landmark noise: at 1.25 times the single-capture
figure, about one pair of same-expression re-captures in nine was flagged.
A change beyond them is an expression change, not landmark jitter. On the
real neutral-to-smiling pairs of faces-london the smile changed by a median
7 % of the IOD, and the cheeks were judged spoiled in 91 % of the pairs
(``validation/validate.py --real`` reports how many pairs each region stays
comparable in).

References
----------
.. [1] P. Ekman, W. V. Friesen, J. C. Hager, "Facial Action Coding System",
       Research Nexus, 2002; geometric AU features as in M. Valstar,
       M. Pantic, "Fully automatic recognition of the temporal phases of
       facial actions", IEEE TSMC-B 42(1):28-43, 2012.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .facemesh import Face
from .reasons import Reason

MOUTH_CORNERS = (61, 291)
INNER_LIPS = (13, 14)
OUTER_LIP_CENTRE = (0, 17)
EYELIDS = ((159, 145), (386, 374))
BROW_MIDDLES = (105, 334)

MEASURES = ("mouth_width", "mouth_open", "smile", "eye_open", "brow_raise")

#: Largest change, in % of the IOD, still taken as the same expression.
TOLERANCE_IOD_PCT = {"mouth_width": 5.0, "mouth_open": 3.5, "smile": 3.5, "eye_open": 2.5, "brow_raise": 2.75}

#: The skin regions each measure's change spoils.
SPOILS = {
    "mouth_width": ("left_cheek", "right_cheek", "chin"),
    "mouth_open": ("chin", "left_cheek", "right_cheek"),
    "smile": ("left_cheek", "right_cheek", "chin", "periorbital"),
    "eye_open": ("periorbital",),
    "brow_raise": ("forehead", "periorbital"),
}

_LABELS = {"mouth_width": "mouth width", "mouth_open": "mouth opening", "smile": "smile",
           "eye_open": "eye opening", "brow_raise": "brow height"}


@dataclass(frozen=True)
class Expression:
    """Expression measures of one face, in % of its inter-ocular distance (see module docstring)."""

    mouth_width: float
    mouth_open: float
    smile: float
    eye_open: float
    brow_raise: float

    def to_dict(self) -> dict:
        return {m: getattr(self, m) for m in MEASURES}


def _level(face: Face) -> np.ndarray:
    """Landmarks in the face's frame: right eye centre at the origin, eyes level, IOD = 100."""
    right, left = face.right_eye_centre, face.left_eye_centre
    axis = left - right
    iod = np.linalg.norm(axis)
    c, s = axis / iod
    rotation = np.array([[c, s], [-s, c]])
    return (face.xy - right) @ rotation.T * (100.0 / iod)


def expression(face: Face) -> Expression:
    """Measure a face's expression (see module docstring); y grows downwards in the image."""
    p = _level(face)
    corners = p[list(MOUTH_CORNERS)]
    lip_centre = p[list(OUTER_LIP_CENTRE)].mean(axis=0)
    eye_centres = np.array([[0.0, 0.0], [100.0, 0.0]])
    return Expression(
        mouth_width=float(np.linalg.norm(corners[1] - corners[0])),
        mouth_open=float(p[INNER_LIPS[1], 1] - p[INNER_LIPS[0], 1]),
        smile=float(lip_centre[1] - corners[:, 1].mean()),
        eye_open=float(np.mean([p[lower, 1] - p[upper, 1] for upper, lower in EYELIDS])),
        brow_raise=float(np.mean(eye_centres[:, 1] - p[list(BROW_MIDDLES), 1])),
    )


@dataclass(frozen=True)
class ExpressionChange:
    """How the expression changed from the baseline, and the regions that change spoils."""

    photo: Expression
    baseline: Expression
    change: dict
    moved: tuple[str, ...]
    spoiled: dict  # region -> tuple of measures that moved

    def reasons(self, region: str) -> list[Reason]:
        """Blocking reasons for one region (empty when its expression is unchanged)."""
        return [Reason("expression", f"{_LABELS[m]} changed by {self.change[m]:+.1f} % of the eye distance "
                                     f"(tolerance {TOLERANCE_IOD_PCT[m]:.1f} %)")
                for m in self.spoiled.get(region, ())]

    def to_dict(self) -> dict:
        return {"photo": self.photo.to_dict(), "baseline": self.baseline.to_dict(), "change_iod_pct": self.change,
                "moved": list(self.moved), "regions_spoiled": {r: list(m) for r, m in self.spoiled.items()}}


def compare_expressions(photo: Face, baseline: Face) -> ExpressionChange:
    """Changes of each measure beyond its tolerance, and the regions they spoil."""
    a, b = expression(photo), expression(baseline)
    change = {m: getattr(a, m) - getattr(b, m) for m in MEASURES}
    moved = tuple(m for m in MEASURES if abs(change[m]) > TOLERANCE_IOD_PCT[m])
    spoiled: dict[str, tuple[str, ...]] = {}
    for m in moved:
        for region in SPOILS[m]:
            spoiled[region] = spoiled.get(region, ()) + (m,)
    return ExpressionChange(a, b, change, moved, spoiled)
