"""What a PDF made here says: the text a reader sees on its pages, and everything else it stores in the open.

Text set in an embedded font is stored as glyph numbers, not characters, so the pages are read through the
fonts' ToUnicode maps with pypdf, as a PDF reader's copy and search do; a search of the raw bytes would find
no name in any PDF and prove nothing.
"""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

_STREAMS = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)


def page_text(pdf: bytes) -> str:
    """The text of every page, in order, one line per line drawn."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def pdf_text(pdf: bytes) -> str:
    """Every string the PDF shows or stores: its pages' text and its objects outside streams (the document
    information: title, author, dates)."""
    return page_text(pdf) + "\n" + _STREAMS.sub(b"", pdf).decode("latin-1")
