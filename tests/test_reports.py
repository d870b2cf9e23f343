"""PDF reports: a de-identified report names no client, gives no exact date and carries no free text."""

from __future__ import annotations

import io
from datetime import date
import re

import pytest
from pypdf import PdfReader

from tracker import cards, gallery, photos, reports
from tracker.models import Client, Session
from pdfs import page_text, pdf_text
from tracker_helpers import ACTOR, client_with_course, new_db

REACTION = "Mild bruising near Mrs Doe's left eye"
NOTE = "Client mentioned her wedding on Saturday"
NAME = "Dora Doe-Wiśniewska"  # outside Latin-1, which the PDF's own fonts are limited to


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    db = new_db(tmp_path_factory.mktemp("reports") / "data")
    ids = client_with_course(db, NAME, sessions=2)
    with db.session() as s:
        for session in s.query(Session).filter(Session.id.in_(ids["sessions"])):
            session.immediate_reactions, session.notes = REACTION, NOTE
        s.get(Client, ids["client"]).courses[0].treatment = "Dora's personal protocol"
        s.commit()
        photos.analyse_pending(s, db.store, ACTOR)  # a gallery pair needs an analysed, comparable photo
    yield db, ids
    db.close()


def report(db, ids, mode, monkeypatch):
    """The report and the captions drawn under its photos."""
    captions = []
    real = gallery.side_by_side

    def recording(before, after, height=800, labels=("", "")):
        captions.extend(labels)
        return real(before, after, height, labels)

    monkeypatch.setattr(gallery, "side_by_side", recording)
    with db.session() as s:
        pairs = [p for p in gallery.eligible_pairs(s, ACTOR) if p.client_id == ids["client"]]
        assert pairs
        return reports.report_pdf(s, db.store, ACTOR, pairs, mode), captions


def test_a_deidentified_report_has_no_client_id_exact_dates_or_free_text(course, monkeypatch):
    db, ids = course
    pdf, captions = report(db, ids, "mask_eyes", monkeypatch)
    text = pdf_text(pdf)
    shown = page_text(pdf)
    assert "Session 1, month 0" in shown and "Session 2, month 1" in shown
    assert captions == ["Session 1, month 0", "Session 2, month 1"]
    for secret in ("Dora", "Doe", "Wiśniewska", f"Client {ids['client']}", f"#{ids['client']}", "bruising", "wedding",
                   "personal protocol", "batch", "2027", "HA complex"):
        assert secret not in text, secret
    assert not re.search(r"\bB\d\b", text)  # the batch numbers B1, B2
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)  # no ISO date anywhere
    assert not re.search(r"/CreationDate \(D:\d{6}(?!01000000)", text)  # only the month the file was made
    assert "Other treatment" in shown
    assert "1 product, 3 ml in all" in shown  # issue 16: product names are free text


def test_an_identified_report_keeps_the_treatment_log(course, monkeypatch):
    db, ids = course
    pdf, captions = report(db, ids, "none", monkeypatch)
    shown = page_text(pdf)
    assert NAME in shown and "bruising" in shown and "batch B1" in shown
    assert re.search(r"Session 1, \d{4}-\d{2}-\d{2}", captions[0])


def test_hostile_text_neither_stops_a_report_nor_reverses_its_lines(course):
    """A direction override typed after a name, a run of spaces longer than the PDFs print whole in the name
    (which the records bound at 200 characters), and runs of dots long enough to exhaust the bidirectional
    step's recursion in the reactions."""
    db, _ = course
    ids = client_with_course(db, "Ann\u202e Smith" + " " * 180 + "Jr", sessions=2)
    with db.session() as s:
        for session in s.query(Session).filter(Session.id.in_(ids["sessions"])):
            session.immediate_reactions = "." * 1500
        s.commit()
        photos.analyse_pending(s, db.store, ACTOR, ids["client"])
        pairs = [p for p in gallery.eligible_pairs(s, ACTOR) if p.client_id == ids["client"]]
        pdf = reports.report_pdf(s, db.store, ACTOR, pairs, "none", title="=" * 1200)
    heading = next(line for line in page_text(pdf).splitlines() if line.startswith("Ann"))
    assert heading.startswith("Ann Smith") and f"report of {date.today().isoformat()}" in heading
    assert "\u2026" in heading and "\u202e" not in page_text(pdf)


@pytest.mark.parametrize("name", ["Łucja Wiśniewska", "Ольга Петрова", "Ζωή Παπαδοπούλου", "محمد الأحمد",
                                  "שרה כהן", "Nguyễn Thị Hương"])
def test_the_access_card_prints_the_name_as_written_on_a_bank_card_page(name):
    pdf = cards.access_card_pdf(name, "ABCD-EFGH-JKLM", "https://portal.example", "Klinika Čapek")
    lines = page_text(pdf).splitlines()
    assert lines[:2] == ["Klinika Čapek", name] and "ABCD-EFGH-JKLM" in lines
    box = PdfReader(io.BytesIO(pdf)).pages[0].mediabox  # ISO/IEC 7810 ID-1, landscape, in points
    assert (float(box.width), float(box.height)) == pytest.approx((85.6 / 25.4 * 72, 54 / 25.4 * 72), abs=0.1)


def test_a_name_in_a_script_the_font_lacks_prints_as_question_marks():
    assert page_text(cards.access_card_pdf("王小明 Wang", "ABCD", "", "")).splitlines()[1] == "??? Wang"
