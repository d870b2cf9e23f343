"""Attacker probes of user text shown as markdown (issue 16.8, 16.9): text a page passes to st.error, st.success
(flash) and the like without app_pages.ui.plain().

A photo's file name comes from outside the clinic (a client's phone, an e-mail); a body-area or clinic name is
typed by staff. Each probe asks whether a message a page shows as markdown carries the text unescaped. A probe
that found a hole is marked xfail(strict=True) with the file and line.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from app_pages.ui import plain
from tracker import clinics, photos
from tracker.errors import RecordError
from tracker.photos import Incoming
from tracker_helpers import ACTOR, client_with_course, sample_bytes

LINK = "[your results](https://evil.example/x) ![](https://evil.example/pixel.png)"


def live_markup(message: str) -> bool:
    """Whether ``message``, as the pages show an error (``st.error(plain(exc.message))``: the library's
    messages are data and repeat what was typed), holds a markdown link or image that would form."""
    shown = plain(message)
    return "](" in shown and "\\]\\(" not in shown


def test_a_file_name_in_an_import_error_is_not_markup(db):
    ada = client_with_course(db, sessions=1)
    with db.session() as s, pytest.raises(RecordError) as refused:
        photos.import_photos(s, db.store, ACTOR, ada["sessions"][0], [Incoming(f"{LINK}.jpg", sample_bytes(1))])
    assert not live_markup(refused.value.message), refused.value.message


def _tiff_with_gps() -> bytes:
    exif = Image.Exif()
    exif.get_ifd(0x8825)[1] = "N"
    out = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(out, "TIFF", exif=exif.tobytes())
    return out.getvalue()


def test_a_file_name_in_a_metadata_refusal_is_not_markup(db):
    ada = client_with_course(db, sessions=1, with_photos=False)
    with db.session() as s, pytest.raises(RecordError) as refused:
        photos.import_photos(s, db.store, ACTOR, ada["sessions"][0],
                             [Incoming(f"{LINK}.tif", _tiff_with_gps(), view="left thigh")])
    assert "location" in refused.value.message
    assert not live_markup(refused.value.message), refused.value.message


def test_a_refused_view_name_is_not_markup():
    with pytest.raises(RecordError) as refused:
        photos.check_view(LINK)
    assert not live_markup(refused.value.message), refused.value.message


def test_a_clinic_name_in_an_error_is_not_markup(db):
    with db.session() as s:
        clinics.add_clinic(s, ACTOR, LINK)
        with pytest.raises(RecordError) as refused:
            clinics.add_clinic(s, ACTOR, LINK)
    assert not live_markup(refused.value.message), refused.value.message


def test_a_product_line_in_an_error_is_not_markup():
    from tracker import records
    with pytest.raises(RecordError) as refused:
        records.parse_product_line(LINK)
    assert not live_markup(refused.value.message), refused.value.message


def test_a_body_area_name_cannot_carry_links_into_a_flash():
    """session.py's flash "is now the baseline of {photo_view}" is markdown: the name check keeps links out."""
    for name in (LINK, "a](b)", "x<img src=x>", "left\u202ethigh", "thigh\nforged line"):
        with pytest.raises(RecordError):
            photos.check_view(name)
    assert photos.check_view("__left__ thigh") == "__left__ thigh"  # only emphasis forms: cosmetic


def test_plain_breaks_the_forms_we_know():
    import re
    import string
    from app_pages.ui import plain
    for text in (LINK, "<img src=x onerror=alert(1)>", "www.evil.example", "a@b.example", ":red[big]", "$x^2$",
                 "# heading", "line\nbreak", "\u202eevil", "*a* _b_ `c` ~d~"):
        out = plain(text)
        bare = re.sub(r"\\.", "", out)  # what is left once every backslash escape is taken out
        assert not set(bare) & set(string.punctuation), (text, out)
        assert "\n" not in out and "\u202e" not in out
        assert "www.evil" not in out.replace("\\", "") and "b.example" not in out.replace("\\", "")
