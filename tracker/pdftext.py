"""Text in the PDFs (reports and access cards), in the scripts clients' names are written in.

The PDF format's own fonts cover Latin-1 only: "Łucja Wiśniewska" printed as
"?ucja Wi?niewska". The PDFs embed DejaVu Sans instead (a subset: only the
glyphs used), which covers the Latin, Greek, Cyrillic, Armenian, Georgian,
Hebrew and Arabic alphabets, with HarfBuzz text shaping (``uharfbuzz``) so
that Arabic letters join and right-to-left text reads right to left. The
font files come from matplotlib's wheel (``mpl-data/fonts/ttf``), a declared
dependency: nothing is downloaded and no system font is needed. A character
the font lacks (Chinese, Japanese, Korean, Indic scripts) is printed as
``?``, never dropped silently or an error; the screen and the records keep
the name as typed.
"""

from __future__ import annotations

import functools
import importlib.util
import pathlib
import unicodedata

from fontTools.ttLib import TTFont
from fpdf import FPDF

#: The font family every text of the PDFs is set in.
SANS = "DejaVuSans"
_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}


def font_folder() -> pathlib.Path:
    """matplotlib's TrueType folder, found without importing matplotlib (slow, and not needed here)."""
    spec = importlib.util.find_spec("matplotlib")
    return pathlib.Path(spec.submodule_search_locations[0]) / "mpl-data" / "fonts" / "ttf"


#: The styles any user text (a name, a treatment, a note) is set in; italic (which lacks Arabic) is kept for
#: the reports' own English notes.
USER_TEXT_STYLES = ("", "B")


#: Explicit embeddings, overrides and isolates: typed into a name, one would reverse the rest of its line.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: The longest run of characters without a direction of their own (spaces, punctuation) that is printed whole:
#: fpdf2's bidirectional step recurses once per such character, and about a thousand exceed Python's stack.
MAX_NEUTRAL_RUN = 100
_STRONG = frozenset(("L", "R", "AL", "EN", "AN"))


@functools.cache
def _covered() -> frozenset[int]:
    """The code points both styles of :data:`USER_TEXT_STYLES` have a glyph for."""
    covered = []
    for style in USER_TEXT_STYLES:
        with TTFont(font_folder() / _FILES[style], lazy=True) as font:
            covered.append(frozenset(font["cmap"].getBestCmap()))
    return frozenset.intersection(*covered)


def printable(text: str) -> str:
    """``text`` as the PDFs print it: each character the regular and bold fonts lack as ``?`` (line breaks and
    tabs kept), explicit direction controls (:data:`BIDI_CONTROLS`) left out, and a run of direction-neutral
    characters longer than :data:`MAX_NEUTRAL_RUN` cut short with an ellipsis."""
    covered, out, run = _covered(), [], 0
    for c in text:
        if c in BIDI_CONTROLS:
            continue
        run = 0 if unicodedata.bidirectional(c) in _STRONG else run + 1
        if run > MAX_NEUTRAL_RUN:
            if run == MAX_NEUTRAL_RUN + 1:
                out.append("\u2026")
            continue
        out.append(c if ord(c) in covered or c in "\n\t" else "?")
    return "".join(out)


def new_pdf(**kwargs) -> FPDF:
    """An :class:`~fpdf.FPDF` (``kwargs`` as its own) with the family :data:`SANS` in regular, bold and italic,
    and text shaping on."""
    pdf = FPDF(**kwargs)
    for style, name in _FILES.items():
        pdf.add_font(SANS, style, font_folder() / name)
    pdf.set_text_shaping(True)
    return pdf
