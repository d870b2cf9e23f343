"""PDF reports: a de-identified report names no client, gives no exact date and carries no free text."""

from __future__ import annotations

import re
import zlib

import pytest

from tracker import gallery, photos, reports
from tracker.models import Client, Session
from tracker_helpers import ACTOR, client_with_course, new_db

REACTION = "Mild bruising near Mrs Doe's left eye"
NOTE = "Client mentioned her wedding on Saturday"


def pdf_text(pdf: bytes) -> str:
    """Every string the PDF shows or stores: its objects outside streams (document information
    included) and its (deflated) page content streams; image streams are left out."""
    streams = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
    parts = [streams.sub(b"", pdf).decode("latin-1")]
    for stream in streams.findall(pdf):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue
        if b" Tj" in content:  # page content (text operators); image pixels are left out
            parts.append(content.decode("latin-1"))
    return "\n".join(parts)


def shown_text(content: str) -> str:
    """The text of the ``(...) Tj`` operators, in order."""
    return " ".join(re.findall(r"\((.*?)(?<!\\)\)\s*Tj", content))


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    db = new_db(tmp_path_factory.mktemp("reports") / "data")
    ids = client_with_course(db, "Dora Doe", sessions=2)
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
    shown = shown_text(text)
    assert "Session 1, month 0" in shown and "Session 2, month 1" in shown
    assert captions == ["Session 1, month 0", "Session 2, month 1"]
    for secret in ("Dora", "Doe", f"Client {ids['client']}", f"#{ids['client']}", "bruising", "wedding",
                   "personal protocol", "batch", "2027"):
        assert secret not in text, secret
    assert not re.search(r"\bB\d\b", text)  # the batch numbers B1, B2
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)  # no ISO date anywhere
    assert not re.search(r"/CreationDate \(D:\d{6}(?!01000000)", text)  # only the month the file was made
    assert "Other treatment" in shown


def test_an_identified_report_keeps_the_treatment_log(course, monkeypatch):
    db, ids = course
    pdf, captions = report(db, ids, "none", monkeypatch)
    shown = shown_text(pdf_text(pdf))
    assert "Dora Doe" in shown and "bruising" in shown and "batch B1" in shown
    assert re.search(r"Session 1, \d{4}-\d{2}-\d{2}", captions[0])
