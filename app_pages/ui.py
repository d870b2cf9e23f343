"""Small pieces the record-keeping pages share: plain text, date fields, messages that survive a rerun,
capture checks with their status, and a region drawn on a photo."""

from __future__ import annotations

import math
import os
import re
import string
import unicodedata
from datetime import date

import streamlit as st

from tracker.records import EARLIEST_BIRTH

_MARKUP = re.compile("([" + re.escape(string.punctuation) + "])")
_ZWSP = "\u200b"
DATE_FORMAT = "YYYY/MM/DD"
CHECK_LOOK = {"pass": (st.success, ":material/check_circle:"), "warn": (st.warning, ":material/warning:"),
              "fail": (st.error, ":material/cancel:")}


def plain(text: object) -> str:
    """User text made safe to put inside markdown (titles, captions, labels, ``st.write``).

    Every ASCII punctuation character is backslash-escaped, so no link, image, HTML, emphasis, LaTeX or
    colour directive can form; a zero-width space after ``@ . :`` stops the automatic links of bare
    addresses (``www.x``, ``a@b.c``, ``https://``), which escapes do not; line breaks and runs of spaces
    become one space, so a name cannot forge lines of the page; bidirectional and other invisible format
    characters (Unicode category Cf, e.g. U+202E) are dropped, so a name cannot reorder what follows it.
    For text of several lines use ``st.text``.
    """
    visible = "".join(c for c in str(text) if unicodedata.category(c) != "Cf")
    escaped = _MARKUP.sub(r"\\\1", " ".join(visible.split()))
    return re.sub(r"(\\[@.:])", r"\1" + _ZWSP, escaped)


def date_field(label: str, key: str, value: date | None = None, earliest: date = EARLIEST_BIRTH,
               latest: date | None = None, **kwargs):
    """A date input that accepts any date from ``earliest`` to ``latest`` (Streamlit's default bounds are
    ten years either side of today, which drops a typed date of birth) and says how to type one."""
    return st.date_input(label, value=value, min_value=earliest, max_value=latest, format=DATE_FORMAT, key=key,
                         help=f"Pick a date, or type it as {DATE_FORMAT}", **kwargs)


def needs_date(label: str, value) -> date:
    """A date field's value, or a RecordError-style message: a typed date the widget could not read comes
    back empty, so an empty required date is never saved silently."""
    if value is None:
        raise ValueError(f"{label}: enter a date as {DATE_FORMAT} (from {EARLIEST_BIRTH:%Y} to today)")
    return value


def reason_input(label: str, key: str) -> str:
    """The reason for one correction: empty again once that correction is saved (:func:`clear_later`), so the
    next correction never goes into the history under the last one's reason."""
    cleared(key)
    return st.text_input(label, key=key)


def cleared(key: str, empty: object = "") -> None:
    """Before the widget ``key`` is drawn: set it to ``empty`` if :func:`clear_later` named it. Set before it
    is drawn, the browser's copy is emptied too (dropping the key would not)."""
    if key in st.session_state.get("spent_fields", ()):
        st.session_state.spent_fields.discard(key)
        st.session_state[key] = empty


def clear_later(*keys: str) -> None:
    """Empty these widgets at the next run (a widget's value can only be set before it is drawn)."""
    st.session_state.setdefault("spent_fields", set()).update(keys)


def portal_url() -> str:
    """Where clients sign in: ``$TRACKER_PORTAL_URL``, else this app's address as the browser sees it."""
    url = os.environ.get("TRACKER_PORTAL_URL") or st.context.url or ""
    return url if os.environ.get("TRACKER_PORTAL_URL") else url.rsplit("/", 1)[0] if url.count("/") > 2 else url


def flash(message: str, kind: str = "success") -> None:
    """Keep a message for the next run of the page (after ``st.rerun``)."""
    st.session_state.setdefault("flash", []).append((kind, message))


def show_flash() -> None:
    for kind, message in st.session_state.pop("flash", []):
        getattr(st, kind)(message)


def show_check(check) -> None:
    """A capture check in the colour and with the icon of its status, labelled with what was found."""
    element, icon = CHECK_LOOK[check.status]
    element(f"{check.label}: {check.detail}", icon=icon)


def canvas_polygon(json_data: dict | None, canvas_size: tuple[int, int],
                   photo_size: tuple[int, int]) -> list[list[float]] | None:
    """The last polygon drawn on a canvas (Fabric.js JSON) in the photo's pixels, or None.

    The canvas shows the photo scaled to ``canvas_size`` (width, height); a
    point's canvas position is its object's centre plus its offset from the
    points' centre, scaled and rotated as the object is; dividing by the
    canvas-to-photo scale gives the photo's pixels.
    """
    shapes = [o for o in (json_data or {}).get("objects", []) if o.get("type", "").lower() == "polygon"]
    if not shapes:
        return None
    shape = shapes[-1]
    points = [(p["x"], p["y"]) for p in shape["points"]]
    if len(points) < 3:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    offset = ((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2)
    sx, sy = shape.get("scaleX", 1), shape.get("scaleY", 1)
    w, h = shape.get("width", 0) * sx, shape.get("height", 0) * sy
    anchor = {"left": 0.5, "center": 0.0, "right": -0.5}
    centre = (shape.get("left", offset[0]) + anchor.get(shape.get("originX", "left"), 0.5) * w,
              shape.get("top", offset[1]) + anchor.get({"top": "left", "bottom": "right"}.get(
                  shape.get("originY", "top"), "center"), 0.5) * h)
    angle = math.radians(shape.get("angle", 0))
    to_photo = (photo_size[0] / canvas_size[0], photo_size[1] / canvas_size[1])
    out = []
    for x, y in points:
        dx, dy = (x - offset[0]) * sx, (y - offset[1]) * sy
        cx = centre[0] + dx * math.cos(angle) - dy * math.sin(angle)
        cy = centre[1] + dx * math.sin(angle) + dy * math.cos(angle)
        out.append([round(cx * to_photo[0], 1), round(cy * to_photo[1], 1)])
    return out
