"""Measurement quality: for each measure and region, the smallest change this clinic can tell from noise, where
that limit comes from (the clinic's own no-change photos, or the engine's validation), and what is missing.

Every figure comes from :mod:`tracker.calibration`; setting a clinic's floors is an admin's command
(``python -m tracker floors set``), after ``python -m analysis calibrate`` on the clinic's own no-change pairs.
"""

import pandas as pd
import streamlit as st

from app_pages.common import choose_clinic, database, staff_only
from app_pages.ui import plain
from tracker import calibration, progress
from tracker.progress import REGION_LABELS

who = staff_only()
db = database()
st.title("Measurement quality")
clinic_id = choose_clinic(who, "Clinic", "quality_clinic")
with db.session() as s:
    record, rows = calibration.quality(s, who, clinic_id, [m.name for m in progress.SUMMARY])
    state = None if record is None else (record.set_at, plain(record.set_by), record.sha256[:12],
                                         record.floors.get("provenance", {}))
if state is None:
    st.warning("This clinic has not calibrated its own photos yet: every limit below is the engine's, from its "
               "validation in one studio, whose camera and light are not this clinic's. To calibrate, collect pairs "
               "of the clinic's own photos between which nothing was done to the skin (two shots re-framed at one "
               "visit, or the consultation and session 1 before the first injection), list them in a CSV with the "
               "header `photo,baseline`, run `python -m analysis calibrate PAIRS.csv --out FLOORS.json`, then "
               "`python -m tracker floors set FLOORS.json`.")
else:
    set_at, set_by, sha, provenance = state
    st.success(f"This clinic's own floors are in use since {set_at:%Y-%m-%d %H:%M}, set by {set_by} (file "
               f"{sha}, from {plain(provenance.get('source', 'its own no-change pairs'))}).")
table = pd.DataFrame([{
    "Region": REGION_LABELS.get(r.limit.scope, "Whole face"),
    "Measure": f"{r.limit.metric.label} ({r.limit.metric.unit})",
    "Detection limit": "none" if r.limit.value is None else f"{r.limit.value:.2f}",
    "From": {"clinic": "this clinic", "shipped": "the engine's validation", None: "-"}[r.limit.source],
    "Pairs": "" if r.limit.n is None else str(r.limit.n),
    "Leave-one-out coverage": "" if r.limit.loo_coverage is None else f"{100 * r.limit.loo_coverage:.0f} %",
    "Engine's floor": "-" if r.shipped is None else f"{r.shipped:.2f}",
    "Missing": r.limit.missing or "",
} for r in rows])
st.dataframe(table, hide_index=True, width="stretch", height=38 + 35 * len(table))
st.caption("Detection limit: a change smaller than this cannot be told from noise, whatever the pair (every pair's "
           "95 % bound is at least this floor, and wider when the pair itself is noisier). Coverage: the share of "
           "the clinic's no-change pairs inside the floor fitted without them (97.5 % is the aim).")
