"""A printable card with a client's access code for the client portal.

The card holds the client's name, the code and how to use it; no other
personal data. It is made when the code is issued and never stored: the
code is kept only as a hash, so a lost card means a new code.
"""

from __future__ import annotations

from .pdftext import SANS, new_pdf, printable

CARD_MM = (85.6, 54.0)  # ISO/IEC 7810 ID-1, the size of a bank card


def portal_instructions(portal_url: str = "") -> list[str]:
    where = f"Open {portal_url}" if portal_url else "Open the clinic's progress portal"
    return [f"{where}, choose 'Client' and enter this code to see your progress photos.",
            "Keep the card private: anyone with the code can see your photos.",
            "Lost it? Ask the clinic for a new code; this one then stops working."]


def access_card_pdf(name: str, code: str, portal_url: str = "", clinic: str = "") -> bytes:
    """A one-page PDF, bank-card size, with the client's name, access code and the portal instructions."""
    pdf = new_pdf(unit="mm", format=CARD_MM)  # (width, height): fpdf2 swaps them for orientation "L"
    pdf.set_margins(5, 5, 5)
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_font(SANS, "B", 9)
    pdf.cell(0, 5, printable(clinic or "Your progress photos"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(SANS, "", 8)
    pdf.cell(0, 5, printable(name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", "B", 15)
    pdf.cell(0, 10, code, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(SANS, "", 6.5)
    for line in portal_instructions(portal_url):
        pdf.multi_cell(0, 3, printable(line), align="L", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
