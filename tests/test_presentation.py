"""What may be shown of a result: never a number from a pair that is not comparable (issue 7.6), in the
library, the gallery, the PDF and the command line; and the gallery's image cache (issue 9.7)."""

from __future__ import annotations

import copy
import io
import json
from datetime import date

import numpy as np
import pytest
from PIL import Image

from analysis.metrics import MEAN_IPD_MM, REGISTRY
from analysis.reasons import CODES
from app_pages.wipe import wipe_html
from pdfs import page_text
from presentation_helpers import DIFFERENT_PERSON, course_with_a_different_person, figures, forge
from tracker import access, gallery, pdftext, photos, progress, records, reports
from tracker.cli import main
from tracker.models import Photo
from tracker.progress import BEYOND, NOT_COMPARABLE, NOT_MEASURED, WITHIN, ProgressRow, ShownChange
from tracker_helpers import ACTOR, client_with_course, new_db

SHOWN = [m.name for m in progress.SUMMARY]


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    root = tmp_path_factory.mktemp("presentation") / "data"
    db = new_db(root)
    course = course_with_a_different_person(db)
    yield {"db": db, "root": root, **course}
    db.close()


def rows_of(db, course_id):
    with db.session() as s:
        return progress.course_progress(s, ACTOR, records.get_course(s, ACTOR, course_id))


def compared_row(result: dict) -> ProgressRow:
    """A row as course_progress makes it, from a result built in the test."""
    return ProgressRow(
        session=2, held_on=date(2026, 2, 9), view="front", photo_id=2, status="compared",
        comparable=result["alignment"]["comparable"],
        reasons=() if result["alignment"]["comparable"] else tuple(map(progress.as_reason,
                                                                        result["alignment"]["reasons"])),
        _result=result)


def result_with_regions(comparable: bool, reasons: list, region_verdict: dict | None = None) -> dict:
    metrics = dict.fromkeys(REGISTRY, 1.0)
    per_region = {g: dict(metrics) for g in ("forehead", "left_cheek")}
    result = {"alignment": {"comparable": comparable, "reasons": reasons},
              "change": dict.fromkeys(REGISTRY, -0.5), "noise": dict.fromkeys(REGISTRY, 0.2),
              "beyond_noise": dict.fromkeys(REGISTRY, True), "reference_metrics": dict.fromkeys(REGISTRY, 10.0),
              "region_change": {g: dict.fromkeys(REGISTRY, -0.7) for g in per_region},
              "region_noise": {g: dict.fromkeys(REGISTRY, 0.3) for g in per_region},
              "region_beyond_noise": {g: dict.fromkeys(REGISTRY, True) for g in per_region},
              "reference_regions": per_region, "scale": {"iod_px": 256.0, "px_per_mm": 4.0}}
    if region_verdict is not None:
        result["region_verdict"] = region_verdict
    return result


def test_a_pair_that_is_not_comparable_shows_its_reason_not_a_number(clinic):
    rows = rows_of(clinic["db"], clinic["course"])
    assert [r.status for r in rows] == ["baseline", "compared", "compared"]
    assert rows[1].comparable and not rows[2].comparable
    for metric in REGISTRY:
        shown = rows[2].change(metric)
        assert shown.verdict == NOT_COMPARABLE and shown.change is None and shown.bound is None
        assert shown.figure() == "not comparable"
        for g in rows[2].regions():  # no per-region verdict in this result: the regions follow the pair
            assert rows[2].region_change(g, metric).verdict == NOT_COMPARABLE
    staff, client = rows[2].change("redness_a_star").sentence(), rows[2].change("redness_a_star").sentence(plain=True)
    assert DIFFERENT_PERSON["message"] in staff and "±" not in staff
    assert CODES["different_person"].plain in client and "0.81" not in client
    as_json = json.dumps(rows[2].to_dict()) + json.dumps(rows[2].to_dict(plain=True))
    assert not any(f in as_json for f in figures(clinic["hidden"], REGISTRY))
    # The comparable session is shown with its bound, and a real minus sign (a* -1 is within real-photo noise).
    redness = rows[1].change("redness_a_star")
    assert redness.verdict == WITHIN and redness.figure().startswith("\u2212") and " ± " in redness.figure()


def test_a_photo_judged_to_be_someone_else_never_reaches_the_client(clinic):
    """Issue 16.1: the client's rows hold neither the photo nor its results; staff see it flagged."""
    with clinic["db"].session() as s:
        course = records.get_course(s, ACTOR, clinic["course"])
        client = access.client_viewer(course.client)
        staff_rows = progress.course_progress(s, ACTOR, course)
        client_rows = progress.course_progress(s, client, course)
        staff_hashes = progress.photo_hashes(course, staff_rows)
        client_hashes = progress.photo_hashes(course, client_rows)
        flagged = s.get(Photo, clinic["photos"][2])
        assert photos.judged_other_person(flagged) and not photos.judged_other_person(s.get(Photo, clinic["photos"][1]))
    assert [r.other_person for r in staff_rows] == [False, False, True]
    assert [r.status for r in client_rows] == ["baseline", "compared", progress.WITHHELD]
    withheld = client_rows[2]
    assert withheld.reasons[0]["code"] == "photo_under_review" and not withheld.other_person
    assert withheld._result == {} and not withheld.to_dict(plain=True).get("change")
    assert clinic["photos"][2] in staff_hashes and clinic["photos"][2] not in client_hashes
    assert set(client_hashes) == {clinic["photos"][0], clinic["photos"][1]}


def test_a_shown_change_cannot_be_built_without_its_bound_or_from_a_non_comparable_pair():
    metric = REGISTRY["redness_a_star"]
    with pytest.raises(ValueError):
        ShownChange(metric, NOT_COMPARABLE, change=-1.0, bound=0.2)
    with pytest.raises(ValueError):
        ShownChange(metric, BEYOND, change=-1.0)
    with pytest.raises(ValueError):
        ShownChange(metric, NOT_MEASURED)  # no number and no reason


def test_each_region_follows_its_own_verdict():
    expression = {"code": "expression", "message": "mouth opened by 12 % of the eye distance"}
    verdict = {"forehead": {"comparable": True, "reasons": []},
               "left_cheek": {"comparable": False, "reasons": [expression]}}
    row = compared_row(result_with_regions(False, [expression], verdict))
    assert row.change("redness_a_star").verdict == NOT_COMPARABLE
    forehead, cheek = row.region_change("forehead", "redness_a_star"), row.region_change("left_cheek", "redness_a_star")
    assert forehead.verdict == BEYOND and forehead.change == -0.7 and forehead.bound == 0.3
    assert cheek.verdict == NOT_COMPARABLE and cheek.why(plain=True) == CODES["expression"].plain
    assert cheek.why(plain=False) == expression["message"]
    # A different person is never comparable in any region, whatever a region's verdict says.
    row = compared_row(result_with_regions(False, [DIFFERENT_PERSON], verdict))
    assert row.region_change("forehead", "redness_a_star").verdict == NOT_COMPARABLE
    # Without per-region bounds (an analysis from before them) a region shows no number.
    old = result_with_regions(True, [])
    del old["region_noise"]
    assert not compared_row(old).region_change("forehead", "redness_a_star").shown


def test_old_results_with_plain_string_reasons_are_shown_as_alignment_reasons():
    row = compared_row(result_with_regions(False, ["alignment residual 4.2% of the eye distance"]))
    shown = row.change("brightness_l_star")
    assert shown.verdict == NOT_COMPARABLE
    assert shown.why(plain=False) == "alignment residual 4.2% of the eye distance"
    assert shown.why(plain=True) == CODES["alignment"].plain


def test_a_change_within_noise_is_said_to_be_so():
    result = result_with_regions(True, [])
    result["change"]["brightness_l_star"], result["beyond_noise"]["brightness_l_star"] = 0.1, False
    shown = compared_row(result).change("brightness_l_star")
    assert shown.verdict == WITHIN and shown.figure() == "+0.10 ± 0.20 L*" and shown.cell() == "+0.10 ± 0.20"
    assert shown.sentence() == "brightness up 1% since baseline (+0.10 ± 0.20 L*), within measurement noise: " \
                               "may not be real"


def test_the_texture_note_gives_the_real_reason_it_is_empty():
    small = result_with_regions(True, [])
    small["change"]["texture_roughness"] = None
    small["scale"] = {"iod_px": 80.0, "px_per_mm": 80.0 / MEAN_IPD_MM}  # the smaller photo's eyes 133 px apart
    chart = progress.series([ProgressRow(1, date(2026, 1, 12), "front", 1, "baseline"), compared_row(small)],
                            "texture_roughness")
    assert not chart.points
    assert chart.note() == "texture roughness is not measured: eyes are 133 px apart; texture roughness needs " \
                           "at least 158: move closer or use a higher resolution"
    assert chart.note(plain=True) == "texture roughness is not measured: " + CODES["face_small"].plain
    # A result that says why in its own words (a coded quality warning) is quoted.
    small["quality"] = {"warnings": [{"code": "face_small", "message": "the face is small (eyes 150 px apart)"}]}
    assert compared_row(small).change("texture_roughness").why(plain=False) == "the face is small (eyes 150 px apart)"


def test_charts_leave_out_a_non_comparable_session_and_say_why(clinic):
    rows = [r for r in rows_of(clinic["db"], clinic["course"]) if r.view == "front"]
    chart = progress.series(rows, "redness_a_star")
    assert chart.start == rows[0].held_on
    assert [d for d, _ in chart.points] == [rows[1].held_on]
    assert [n for n, _, _ in chart.left_out] == [3]
    assert chart.note() == f"session 3 left out: {DIFFERENT_PERSON['message']}"


def test_the_gallery_offers_the_latest_comparable_session_or_nothing(clinic):
    db = clinic["db"]
    with db.session() as s:
        pair = next(p for p in gallery.eligible_pairs(s, ACTOR, date(2026, 5, 1)) if p.course_id == clinic["course"])
        assert pair.before.id == clinic["photos"][0] and pair.after.id == clinic["photos"][1]  # not session 3
        kept = copy.deepcopy(s.get(Photo, clinic["photos"][1]).analyses[-1].result)
        forged = forge(s, clinic["photos"][1], [{"code": "head_turned", "message": "head turned 14 degrees"}])
        assert clinic["course"] not in {p.course_id for p in gallery.eligible_pairs(s, ACTOR, date(2026, 5, 1))}
        forged.result = kept
        s.commit()
    unanalysed = client_with_course(db, "Una Analysed", sessions=2)
    with db.session() as s:  # not analysed yet: not known to be comparable, so not offered
        assert unanalysed["course"] not in {p.course_id for p in gallery.eligible_pairs(s, ACTOR, date(2026, 5, 1))}


def test_the_pdf_shows_no_number_from_a_non_comparable_pair(clinic):
    db = clinic["db"]
    with db.session() as s:
        pairs = [p for p in gallery.eligible_pairs(s, ACTOR, date(2026, 5, 1)) if p.course_id == clinic["course"]]
        pdf = reports.report_pdf(s, db.store, ACTOR, pairs, "mask_eyes", "Clinic demo")
        s.commit()
    text = page_text(pdf)
    assert not any(f in text for f in figures(clinic["hidden"], SHOWN))  # none of session 3's changes
    # a report is for the client or for marketing: the plain reason, not the engine's (walk of 2026-12-08)
    assert "Session 3 left out" in text and CODES["different_person"].plain in " ".join(text.split())
    assert "0.81 is above" not in text
    assert "Redness (a*)" in text and "Texture roughness (% contrast)" in text  # titles with units
    assert pdf.count(b"/DCTDecode") == 1 and b"Exif" not in pdf  # the photos as one JPEG, without EXIF


def test_a_chart_note_in_the_pdf_keeps_to_its_three_lines():
    """A long note ran over the next row's charts."""
    pdf = pdftext.new_pdf(format="A4")
    pdf.add_page()
    pdf.set_font(pdftext.SANS, size=6.5)
    long = "Session 3, 4, 5 left out: " + "the lighting could not be matched to the first session; " * 6
    fitted = reports._fitted(pdf, long, 85, reports.NOTE_LINES)
    assert len(pdf.multi_cell(85, 3, fitted, dry_run=True, output="LINES")) == 3 and fitted.endswith("...")
    assert long.startswith(fitted[:-3]) and reports._fitted(pdf, "short", 85, 3) == "short"


def test_course_show_prints_the_reason_in_place_of_numbers(clinic, capsys):
    argv = ["--data", str(clinic["root"]), "--actor", ACTOR.name, "course", "show", str(clinic["course"])]
    assert main(argv) == 0
    out = capsys.readouterr().out
    session3 = next(line for line in out.splitlines() if line.strip().startswith("3 "))
    assert "not comparable" in session3 and "±" not in session3
    assert f"session 3 front: {DIFFERENT_PERSON['message']}" in out
    assert not any(f in out for f in figures(clinic["hidden"], SHOWN))
    assert "Redness (a*)" in out  # columns named from the registry, with units
    assert main([*argv, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[2]["change"]["redness_a_star"] == {"verdict": NOT_COMPARABLE, "unit": "a*",
                                                   "reasons": [DIFFERENT_PERSON]}
    assert rows[1]["change"]["redness_a_star"]["verdict"] == WITHIN  # a* -1: within the real-photo noise


def test_gallery_images_are_built_once_and_cached_by_photo_options_and_version(clinic, monkeypatch):
    db = clinic["db"]
    with db.session() as s:
        pair = next(p for p in gallery.eligible_pairs(s, ACTOR, date(2026, 5, 1)) if p.course_id == clinic["course"])
        first = gallery.pair_jpeg(db.store, pair, "crop_lower_face", "Demo")
        cached = sorted(p.name for p in db.store.cache_dir(pair.after.sha256).iterdir())
        assert any(n.startswith("pair-") for n in cached) and any(n.startswith("thumb-") for n in cached)
        monkeypatch.setattr(gallery, "decode", lambda _: pytest.fail("decoded an original again"))
        assert gallery.pair_jpeg(db.store, pair, "crop_lower_face", "Demo") == first
        other = gallery.pair_jpeg(db.store, pair, "mask_eyes", "Demo")  # new options: from the cached thumbnails
        assert other != first
        pairs_cached = lambda: len(list(db.store.cache_dir(pair.after.sha256).glob("pair-*")))  # noqa: E731
        before_upgrade = pairs_cached()
        monkeypatch.setattr(gallery.analysis, "__version__", "next")  # a new engine: new landmarks, new images
        gallery.pair_jpeg(db.store, pair, "mask_eyes", "Demo")
        assert pairs_cached() == before_upgrade + 1
        monkeypatch.undo()
        picture = gallery.pair_picture(db.store, pair, "none", "", gallery.SCREEN_HEIGHT)
    # Built with no database session (as in a worker thread, or when a download is clicked).
    png = Image.open(io.BytesIO(gallery.png_bytes(gallery.pixels(picture.jpeg(db.store)))))
    assert png.height < image_height(first) and not png.getexif() and not png.info.get("exif")
    image = Image.open(io.BytesIO(first))
    assert image.format == "JPEG" and not image.getexif()
    assert "exif" not in image.info and "icc_profile" not in image.info
    assert image.height > gallery.PAIR_HEIGHT  # the photos plus their captions


def image_height(jpeg: bytes) -> int:
    return Image.open(io.BytesIO(jpeg)).height


def test_the_mask_covers_the_eyes_from_the_stored_landmarks(clinic):
    db = clinic["db"]
    with db.session() as s:
        photo = s.get(Photo, clinic["photos"][0])
        masked = gallery.gallery_pixels(db.store, photo, "mask_eyes")
        landmarks = np.asarray(photo.analyses[-1].result["face"]["landmarks"]) * masked.shape[0] / photo.height
    eye = np.round(landmarks[468 if len(landmarks) > 468 else 33]).astype(int)  # an iris centre
    assert masked[eye[1] - 2:eye[1] + 3, eye[0] - 2:eye[0] + 3].max() < 20  # JPEG black


def test_the_wipe_is_one_self_contained_page():
    before = np.zeros((40, 30, 3), np.uint8)
    page = wipe_html(before, before + 200, ("Session 1, 2026-01-12", "<b>Session 2</b>"))
    assert page.count("data:image/jpeg;base64,") == 2
    assert "http" not in page and "src=\"//" not in page  # nothing from the network
    assert "&lt;b&gt;Session 2&lt;/b&gt;" in page and "<b>Session 2" not in page
    assert "pointermove" in page and "ArrowLeft" in page
    with pytest.raises(ValueError):
        wipe_html(before, np.zeros((41, 30, 3), np.uint8), ("a", "b"))


def test_regions_have_readable_names(clinic):
    rows = rows_of(clinic["db"], clinic["course"])
    assert [progress.REGION_LABELS[g] for g in rows[1].regions()] == \
        ["Forehead", "Left cheek", "Right cheek", "Chin", "Around the eyes"]


def test_pdf_text_the_font_lacks_is_a_question_mark_never_an_error():
    kept = "distance 0.81 \u2265 0.60, change \u22121.2"
    assert pdftext.printable(kept) == kept
    assert pdftext.printable("\u738b\u5c0f\u660e Wang\n") == "??? Wang\n"
