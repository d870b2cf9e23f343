"""A before/after wipe dragged in the browser: one self-contained HTML snippet, no server round trip per step.

Both images travel once, as JPEG data URIs, inside the snippet; a few lines of
inline script move the dividing line under the pointer (mouse, touch or pen)
or with the arrow keys. Nothing is loaded from the network, so it works on a
clinic's closed network. ``streamlit-image-comparison`` was not used: it
loads its script from a CDN.
"""

from __future__ import annotations

import base64
import html

import numpy as np

from tracker.gallery import jpeg_bytes

_PAGE = """<!doctype html><meta charset="utf-8">
<style>
 body {{ margin: 0; font: 14px sans-serif; }}
 #wipe {{ position: relative; display: inline-block; touch-action: none; cursor: ew-resize; user-select: none;
          outline: none; }}
 #wipe img {{ display: block; max-height: {height}px; max-width: 100%; pointer-events: none; }}
 #before {{ position: absolute; inset: 0; width: 100%; height: 100%; clip-path: inset(0 50% 0 0); }}
 #line {{ position: absolute; top: 0; bottom: 0; left: 50%; width: 2px; background: #fff;
          box-shadow: 0 0 3px #000; }}
 .label {{ position: absolute; top: 6px; padding: 2px 6px; background: rgba(0,0,0,.55); color: #fff;
           border-radius: 3px; }}
</style>
<div id="wipe" tabindex="0" role="slider" aria-label="Wipe between the two photos" aria-valuemin="0"
     aria-valuemax="100" aria-valuenow="50">
 <img id="after" alt="{after_label}" src="data:image/jpeg;base64,{after}">
 <img id="before" alt="{before_label}" src="data:image/jpeg;base64,{before}">
 <div id="line"></div>
 <span class="label" style="left: 6px">{before_label}</span>
 <span class="label" style="right: 6px">{after_label}</span>
</div>
<script>
 const box = document.getElementById("wipe"), before = document.getElementById("before"),
       line = document.getElementById("line");
 let dragging = false, at = 50;
 function show(pct) {{
   at = Math.max(0, Math.min(100, pct));
   before.style.clipPath = "inset(0 " + (100 - at) + "% 0 0)";
   line.style.left = at + "%";
   box.setAttribute("aria-valuenow", Math.round(at));
 }}
 function follow(e) {{ const r = box.getBoundingClientRect(); show(100 * (e.clientX - r.left) / r.width); }}
 box.addEventListener("pointerdown", e => {{ dragging = true; box.setPointerCapture(e.pointerId); follow(e); }});
 box.addEventListener("pointermove", e => {{ if (dragging) follow(e); }});
 box.addEventListener("pointerup", () => {{ dragging = false; }});
 box.addEventListener("keydown", e => {{
   if (e.key === "ArrowLeft") show(at - 5);
   if (e.key === "ArrowRight") show(at + 5);
 }});
</script>"""


def wipe_html(before: np.ndarray, after: np.ndarray, labels: tuple[str, str], height: int = 560) -> str:
    """The wipe as an HTML page: ``before`` left of the line, ``after`` right, at most ``height`` px tall.

    Both photos must be the same size (an aligned pair).
    """
    if before.shape != after.shape:
        raise ValueError("a wipe needs two photos of the same size (an aligned pair)")
    encoded = [base64.b64encode(jpeg_bytes(rgb, quality=90)).decode("ascii") for rgb in (before, after)]
    return _PAGE.format(before=encoded[0], after=encoded[1], height=height,
                        before_label=html.escape(labels[0]), after_label=html.escape(labels[1]))
