"""A printable card with a client's access code for the client portal.

The card holds the client's name, the code and how to use it; no other
personal data. It is made when the code is issued and never stored: the
code is kept only as a hash, so a lost card means a new code.
"""

from __future__ import annotations

from fpdf import FPDF

CARD_MM = (85.6, 54.0)  # ISO/IEC 7810 ID-1, the size of a bank card


def portal_instructions(portal_url: str = "") -> list[str]:
    where = f"Open {portal_url}" if portal_url else "Open the clinic's progress portal"
    return [f"{where}, choose 'Client' and enter this code to see your progress photos.",
            "Keep the card private: anyone with the code can see your photos.",
            "Lost it? Ask the clinic for a new code; this one then stops working."]


def access_card_pdf(name: str, code: str, portal_url: str = "", clinic: str = "") -> bytes:
    """A one-page PDF, bank-card size, with the client's name, access code and the portal instructions."""
    pdf = FPDF(orientation="L", unit="mm", format=CARD_MM)
    pdf.set_margins(5, 5, 5)
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 9)
    pdf.cell(0, 5, _latin1(clinic or "Your progress photos"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    pdf.cell(0, 5, _latin1(name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", "B", 15)
    pdf.cell(0, 10, code, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 6.5)
    for line in portal_instructions(portal_url):
        pdf.multi_cell(0, 3, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _latin1(text: str) -> str:
    """The core PDF fonts are Latin-1: other characters become '?', never an error."""
    return text.encode("latin-1", "replace").decode("latin-1")
