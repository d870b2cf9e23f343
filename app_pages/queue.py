"""Where each photo's analysis is, for the Session and Progress pages, and the button that looks again.

With ``TRACKER_ANALYSIS=worker`` (:func:`tracker.worker.analysis_mode`) the app queues photos for
``python -m tracker worker`` instead of analysing them in the request; these pages then show each photo as
queued, being analysed, analysed, or failed with its reason.
"""

from __future__ import annotations

import streamlit as st

from analysis.reasons import plain_reason
from tracker.photos import ANALYSING, FAILED, QUEUED, AnalysisStatus
from tracker.worker import WORKER, analysis_mode


def queued_mode() -> bool:
    """True when photos are queued for workers rather than analysed in the request."""
    return analysis_mode() == WORKER


def status_text(status: AnalysisStatus, plain: bool) -> str:
    """``"queued for analysis"`` (``"not analysed yet"`` without workers), ``"being analysed (since 14:02
    UTC)"``, ``"analysed"`` or ``"analysis failed: <reason>"`` (a plain sentence for a client, the engine's
    message for staff)."""
    if status.state == QUEUED:
        return "queued for analysis" if queued_mode() else "not analysed yet"
    if status.state == ANALYSING:
        return "being analysed" + (f" (since {status.since:%H:%M} UTC)" if status.since else "")
    if status.state == FAILED:
        return "analysis failed: " + (plain_reason(status.reason) if plain else status.reason["message"])
    return "analysed"


def waiting(statuses) -> bool:
    return any(x.state in (QUEUED, ANALYSING) for x in statuses)


def refresh_button(key: str) -> None:
    """A button that runs the page again, to see analyses the workers finished since."""
    if st.button("Refresh the analysis status", key=key, icon=":material/refresh:"):
        st.rerun()
