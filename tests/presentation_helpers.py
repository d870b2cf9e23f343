"""A course whose last session is not comparable with the baseline, written as a real analysis row."""

from __future__ import annotations

import copy

from tracker import photos
from tracker.models import Photo, PhotoAnalysis
from tracker_helpers import ACTOR, client_with_course

#: What a different person looks like in a result under the new contract (issue 7).
DIFFERENT_PERSON = {"code": "different_person",
                    "message": "face embedding distance 0.81 is above the same-person threshold 0.60"}


def forge(s, photo_id: int, reasons: list[dict], **extra) -> PhotoAnalysis:
    """A photo's current analysis rewritten: its real result, judged not comparable for ``reasons``
    (one analysis per photo and version, so the row itself is changed)."""
    analysed = s.get(Photo, photo_id).analyses[-1]
    result = copy.deepcopy(analysed.result)
    result["alignment"].update(comparable=False, reasons=reasons)
    result.update(extra)
    analysed.result = result
    s.flush()
    return analysed


def course_with_a_different_person(db, name: str = "Ada Example") -> dict:
    """Three analysed sessions; session 3's photo is then judged to show a different person.

    Returns the ids and ``hidden``: session 3's real changes (metric -> value), which must never be shown.
    """
    ids = client_with_course(db, name, sessions=3)
    with db.session() as s:
        photos.analyse_pending(s, db.store, ACTOR, ids["client"])
        hidden = dict(s.get(Photo, ids["photos"][2]).analyses[-1].result["change"])
        forge(s, ids["photos"][2], [DIFFERENT_PERSON])
        s.commit()
    return {**ids, "hidden": hidden}


def figures(values: dict, metrics) -> list[str]:
    """How each value would be printed (2 decimals, without sign), to look for in what is shown."""
    return [f"{abs(values[m]):.2f}" for m in metrics if values.get(m) is not None]
