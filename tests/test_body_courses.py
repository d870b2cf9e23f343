"""Hair-loss and cellulite courses in the records (real SQLite file, rendered photos): area templates, the area's
measures through the tracker with their noise and refusals, the Hexsel score, course show, the PDF, the samples."""

from __future__ import annotations

import json
import pathlib
from datetime import date

import cv2
import numpy as np
import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, select
from streamlit.testing.v1 import AppTest

import analysis
from analysis import decode, locate_face
from analysis.simulate import Recapture, render_cellulite, render_scalp
from tracker import access, clientdata, gallery, progress, records, reports, samples, templates
from tracker.cli import main as tracker_main
from tracker.db import alembic_config
from tracker.errors import DuplicateRecord, RecordError
from tracker.gallery import eligible_pairs, pixels
from tracker.models import Course, HexselScore, Photo, PhotoAnalysis, RecordVersion
from tracker.photos import Incoming, analyse_pending, import_photos, set_marker_size
from tracker.progress import BEYOND, NOT_COMPARABLE
from conftest import encode
from pdfs import pdf_text
from tracker_helpers import ACTOR, new_db, sample_bytes

APP = str(pathlib.Path(__file__).resolve().parents[1] / "app.py")
PASSWORD = "a long enough secret"
SCALP = dict(size=(240, 320), supersample=2, seed=7, marker_mm=5.0)  # a 5 mm marker fits these small renders
SKIN = dict(size=(360, 480), px_per_mm=3.0, seed=3)


def jpeg(rgb) -> bytes:
    return encode(rgb, "JPEG", quality=92)


def body_course(db, treatment: str, areas: list[str], shots: list[tuple[str, bytes]], region,
                marker_mm: float | None = None) -> dict:
    """A consenting client with a course of one session per shot (the region marked on the first), analysed."""
    with db.session() as s:
        client, code = records.add_client(s, ACTOR, "Hana Hair", date(1980, 1, 1))
        records.record_screening(s, ACTOR, client.id, date(2026, 1, 5), patch_test_on=date(2026, 1, 5),
                                 patch_test_result="negative")
        for kind in ("treatment", "photography", "marketing"):
            records.give_consent(s, ACTOR, client.id, kind, date(2026, 1, 5), "Hana Hair")
        course = records.start_course(s, ACTOR, client.id, treatment, areas, 4, 28, date(2026, 1, 12))
        course.marker_mm = marker_mm
        sessions = []
        for i, (view, data) in enumerate(shots):
            ses = records.add_session(s, ACTOR, course.id, date(2026, 1 + i, 12), "Dr Test", "gun", areas)
            import_photos(s, db.store, ACTOR, ses.id, [Incoming(f"{view}-{i}.jpg", data, view,
                                                                region if i == 0 else None)])
            sessions.append(ses.id)
        s.commit()
        analyse_pending(s, db.store, ACTOR, client.id)
        return {"client": client.id, "code": code, "course": course.id, "sessions": sessions}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("body") / "data"


@pytest.fixture(scope="module")
def db(root):
    database = new_db(root)
    yield database
    database.close()


@pytest.fixture(scope="module")
def scalp_course(db):
    """Midline part, then the same hairs fewer of them (10 points more scalp showing), re-captured."""
    before = render_scalp(30.0, part_width_mm=2.0, **SCALP)
    after = render_scalp(40.0, part_width_mm=3.0, **SCALP)
    moved = Recapture(rotation_deg=-5.0, scale=1.08, linear_light=True).apply(after.rgb)
    ids = body_course(db, "hair loss", ["scalp"], [("midline_part", jpeg(before.rgb)), ("midline_part", jpeg(moved))],
                      before.region.tolist(), marker_mm=5.0)
    return {**ids, "truth": after.truth["visible_pct"] - before.truth["visible_pct"]}


# --- templates ------------------------------------------------------------------------

def test_each_treatment_names_its_views_and_what_they_need():
    hair = Course(treatment="hair loss", areas=["scalp"])
    assert [v.name for t in templates.course_templates(hair) for v in t.views] == [
        "vertex", "frontal_hairline", "midline_part", "temporal_left", "temporal_right"]
    assert "combed" in templates.TEMPLATES["hair loss"].needs and "parting" in templates.TEMPLATES["hair loss"].needs
    assert "from above" in templates.TEMPLATES["cellulite"].needs
    assert templates.view_spec(hair, "midline_part") == ("scalp", ("scalp_visible_pct", "part_width_mm"))
    assert templates.view_spec(hair, "vertex") == ("scalp", ("scalp_visible_pct",))  # no part width off the part
    assert templates.view_spec(hair, "crown close-up") == ("scalp", ("scalp_visible_pct", "part_width_mm"))
    cellulite = Course(treatment="cellulite/fat", areas=["body"])
    assert templates.view_spec(cellulite, "posterior_thighs") == ("cellulite", ("dimple_shadow_pct",))
    face = Course(treatment="skin rejuvenation", areas=["face", "neck", "hands"])
    assert [t.name for t in templates.course_templates(face)] == ["face", "neck", "hands"]
    assert templates.view_spec(face, "neck_front")[0] is None and templates.view_spec(face, "left cheek")[0] is None
    items = templates.checklist(hair, {"vertex", "midline_part"})
    assert [i.view.name for i in items if i.captured] == ["vertex", "midline_part"] and len(items) == 5
    assert all(i.view.needs for i in items)


# --- the area's measures through the records ---------------------------------------------

def test_a_scalp_showing_more_is_a_change_beyond_noise_of_the_right_sign(db, scalp_course):
    with db.session() as s:
        course = records.get_course(s, ACTOR, scalp_course["course"])
        base, later = progress.course_progress(s, ACTOR, course)
        result = s.scalar(select(Photo).where(Photo.session_id == scalp_course["sessions"][1])).analyses[-1].result
    assert result["area"] == "scalp" and not result["scale"]["nominal"]
    assert base.status == "baseline" and set(base.to_dict()["values"]) == {"scalp_visible_pct", "part_width_mm"}
    shown = later.change("scalp_visible_pct")
    assert shown.verdict == BEYOND and shown.change == pytest.approx(scalp_course["truth"], abs=2.0)
    assert shown.change > 0 and shown.bound < abs(shown.change)
    # Where 40 % of the scalp shows the gaps run into the part: it is not found, and the records say so.
    part = later.change("part_width_mm")
    assert part.verdict == progress.NOT_MEASURED and part.change is None and part.reasons[0]["code"] == "no_part"
    assert base.values["part_width_mm"] == pytest.approx(2.0, abs=0.2)
    assert [m.name for m in later.summary] == ["scalp_visible_pct", "part_width_mm"]
    assert "printed 5 mm marker" in later.scale_note()
    assert "simulated re-captures" in later.scale_note()  # no real repeated scalp photos calibrated the bands


def test_a_change_of_light_direction_shows_the_reason_and_no_number(db, root, capsys):
    before = render_cellulite(dimples=40, depth_mm=1.5, **SKIN)
    side = render_cellulite(dimples=40, depth_mm=1.5, light_azimuth_deg=90.0, **SKIN)
    ids = body_course(db, "cellulite/fat", ["body"], [("posterior_thighs", jpeg(before.rgb)),
                                                     ("posterior_thighs", jpeg(side.rgb))], before.region.tolist())
    with db.session() as s:
        _, later = progress.course_progress(s, ACTOR, records.get_course(s, ACTOR, ids["course"]))
    shown = later.change("dimple_shadow_pct")
    assert shown.verdict == NOT_COMPARABLE and shown.change is None and shown.reasons[0]["code"] == "light_direction"
    assert later.to_dict(plain=True)["change"]["dimple_shadow_pct"] == {
        "verdict": NOT_COMPARABLE, "unit": "% of region",
        "reasons": ["the light falls on the skin differently from the first session"]}
    assert "dimple shadows: not comparable, because" in shown.sentence()
    assert progress.series([r for r in [later]], "dimple_shadow_pct").points == ()
    assert tracker_main(["--data", str(root), "--actor", ACTOR.name, "course", "show", str(ids["course"])]) == 0
    out = capsys.readouterr().out
    assert "Dimple shadows (% of region)" in out and "dimple shadows: not comparable: the shading across" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("2 "))
    assert "±" not in line and "not comparable" in line


def test_without_a_marker_the_scale_is_nominal_and_the_records_say_so(db):
    scene = render_scalp(30.0, **{**SCALP, "marker_mm": None})
    # A camera mixes light linearly: resampled in sRGB instead, sub-pixel hairs read 4 points denser.
    again = Recapture(rotation_deg=2.0, jpeg_quality=92, linear_light=True).apply(scene.rgb)
    ids = body_course(db, "hair loss", ["scalp"], [("vertex", jpeg(scene.rgb)), ("vertex", jpeg(again))],
                      scene.region.tolist())
    with db.session() as s:
        base, later = progress.course_progress(s, ACTOR, records.get_course(s, ACTOR, ids["course"]))
    assert "nominal" in later.scale_note() and later.to_dict()["scale"]["nominal"] is True
    assert list(later.to_dict()["change"]) == ["scalp_visible_pct"]  # no part width on the vertex view
    assert later.change("scalp_visible_pct").verdict == progress.WITHIN  # a re-capture only


def test_recording_the_marker_size_reanalyses_the_course(db, scalp_course):
    with db.session() as s:
        with pytest.raises(RecordError, match="3 to 100 mm"):
            set_marker_size(s, ACTOR, scalp_course["course"], 500.0, "typo")
        assert set_marker_size(s, ACTOR, scalp_course["course"], 10.0, "our markers are 10 mm") == 2
        s.commit()
        analyse_pending(s, db.store, ACTOR, scalp_course["client"])
        base, later = progress.course_progress(s, ACTOR, records.get_course(s, ACTOR, scalp_course["course"]))
        assert "printed 10 mm marker" in later.scale_note()
        assert base.values["part_width_mm"] == pytest.approx(4.0, abs=0.4)  # twice the millimetres
        assert later.change("scalp_visible_pct").verdict == BEYOND  # a share: the scale does not change it
        set_marker_size(s, ACTOR, scalp_course["course"], 5.0, "back to the right size")
        s.commit()
        analyse_pending(s, db.store, ACTOR, scalp_course["client"])


# --- the Hexsel score --------------------------------------------------------------------

GOOD = dict(depressions_number=3, depressions_depth=2, morphology=2, laxity=1, nurnberger_muller=2)


def test_hexsel_score_is_validated_recorded_and_amended_with_history(db, scalp_course):
    session_id = scalp_course["sessions"][0]
    with db.session() as s:
        for bad, message in ((dict(GOOD, laxity=4), "0 to 3"), (dict(GOOD, morphology=1.5), "0 to 3"),
                             (dict(GOOD, laxity=True), "0 to 3"), ({"depressions_number": 1}, "missing"),
                             (dict(GOOD, dimples=2), "unknown Hexsel item")):
            with pytest.raises(RecordError, match=message):
                records.record_hexsel(s, ACTOR, session_id, **bad)
        score = records.record_hexsel(s, ACTOR, session_id, **GOOD)
        assert score.total == 10
        with pytest.raises(DuplicateRecord):
            records.record_hexsel(s, ACTOR, session_id, **GOOD)
        with pytest.raises(RecordError, match="needs a reason"):
            records.amend_hexsel(s, ACTOR, session_id, "", laxity=2)
        assert records.amend_hexsel(s, ACTOR, session_id, "re-scored from the photo", laxity=2) == ["laxity"]
        s.commit()
        version = s.scalar(select(RecordVersion).where(RecordVersion.entity == "hexsel"))
        assert version.previous == {"laxity": 1} and version.reason == "re-scored from the photo"
        scores = progress.hexsel_scores(records.get_course(s, ACTOR, scalp_course["course"]))
        assert [(x.session, x.total, x.severity) for x in scores] == [(1, 11, "severe")]
        exported = clientdata.client_record(s, records.get_client(s, ACTOR, scalp_course["client"]))
    first = exported["courses"][0]["sessions"][0]
    assert first["hexsel"]["laxity"] == 2  # the client's export holds the score ...
    assert {"entity": "hexsel", "previous": {"laxity": 1}, "reason": "re-scored from the photo"}.items() <= \
        next(v for v in exported["history"] if v["entity"] == "hexsel").items()  # ... and what it was before


def test_migration_0006_adds_the_scores_and_the_marker_size(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(alembic_config(engine), "0004")
    command.upgrade(alembic_config(engine), "head")
    found = inspect(engine)
    assert {c["name"] for c in found.get_columns("hexsel_scores")} >= {"session_id", *GOOD, "scored_by"}
    assert "marker_mm" in {c["name"] for c in found.get_columns("courses")}
    command.downgrade(alembic_config(engine), "0004")
    assert "hexsel_scores" not in inspect(engine).get_table_names()
    engine.dispose()


# --- the samples, the report ----------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_root(tmp_path_factory):
    return tmp_path_factory.mktemp("samples") / "data"


@pytest.fixture(scope="module")
def sampled(sample_root):
    database = new_db(sample_root)
    ids = {name: samples._body_course(database, ACTOR, samples.SAMPLE_DIR / name, client, treatment, areas)
           for name, client, treatment, areas in samples.BODY_SAMPLES}
    with database.session() as s:
        access.add_user(s, access.owner("test"), "lee", PASSWORD, "practitioner", "Dr Lee")
        s.commit()
    yield database, ids
    database.close()


def test_the_sample_courses_are_labelled_simulated_and_show_their_known_change(sampled):
    db, ids = sampled
    truth = json.loads((samples.SAMPLE_DIR / "hair-loss" / "course.json").read_text())
    first, last = (x["photos"][0]["truth"] for x in (truth["sessions"][0], truth["sessions"][-1]))
    with db.session() as s:
        for name, client_id in ids.items():
            client = records.get_client(s, ACTOR, client_id)
            assert "SIMULATED" in client.name
            assert all(p.original_name.startswith("SIMULATED-") for x in client.courses[0].sessions for p in x.photos)
        rows = progress.course_progress(s, ACTOR, records.get_client(s, ACTOR, ids["hair-loss"]).courses[0])
        assert rows[-1].change("scalp_visible_pct").change == pytest.approx(
            last["visible_pct"] - first["visible_pct"], abs=2.0)
        assert rows[-1].change("part_width_mm").change == pytest.approx(
            last["part_width_mm"] - first["part_width_mm"], abs=0.2)
        cellulite = records.get_client(s, ACTOR, ids["cellulite"]).courses[0]
        assert [x.total for x in progress.hexsel_scores(cellulite)] == [11, 10, 9, 7]
        assert progress.course_progress(s, ACTOR, cellulite)[-1].change("dimple_shadow_pct").verdict == BEYOND
        assert s.scalar(select(HexselScore.id).limit(1)) is not None


def test_the_pdf_report_charts_the_area_measures_and_lists_the_hexsel_scores(sampled):
    db, ids = sampled
    with db.session() as s:
        pairs = [p for p in eligible_pairs(s, ACTOR) if p.client_id in ids.values()]
        assert {p.view for p in pairs} == {"midline_part", "posterior_thighs"}
        pdf = reports.report_pdf(s, db.store, ACTOR, pairs)
    text = pdf_text(pdf).replace("\\(", "(").replace("\\)", ")")
    assert "Scalp showing (% of region)" in text and "Part width (mm)" in text
    assert "Dimple shadows (% of region)" in text and "Redness" not in text
    assert "Hexsel cellulite severity" in text and "7/15 (moderate)" in text
    assert "printed 10 mm marker" in text


@pytest.mark.parametrize("mode", ["mask_eyes", "crop_lower_face"])
def test_a_de_identified_body_pair_shows_the_marked_region_not_a_black_frame(sampled, mode):
    db, ids = sampled
    with db.session() as s:
        pairs = [p for p in eligible_pairs(s, ACTOR) if p.client_id in ids.values()]
        assert len(pairs) == 2
        for pair in pairs:
            whole = gallery.gallery_pixels(db.store, pair.before, "none", height=400)
            crops = [gallery.gallery_pixels(db.store, photo, mode, height=400, baseline=pair.before)
                     for photo in (pair.before, pair.after)]
            for shown in crops:
                assert shown.mean() > 40  # the photo's pixels, not the black of "nothing to de-identify with"
                assert shown.shape[0] < 0.9 * whole.shape[0] or shown.shape[1] < 0.9 * whole.shape[1]
            # The later photo's crop shows the same skin: on the scalp, the region carried the wrong way
            # (forward, not inverse, alignment) correlates 0.09 with the baseline's crop, the right way 0.53.
            grey = [cv2.cvtColor(cv2.resize(c, crops[0].shape[1::-1]), cv2.COLOR_RGB2GRAY).ravel() for c in crops]
            assert np.corrcoef(grey)[0, 1] > 0.3
            marked = np.asarray(pair.before.region) * 400 / pair.before.height
            span = np.ptp(marked, axis=0) * (1 + 2 * gallery.REGION_MARGIN)
            shown = gallery.gallery_pixels(db.store, pair.before, mode, height=400)
            assert shown.shape[1] / shown.shape[0] == pytest.approx(span[0] / span[1], rel=0.05)
        picture = pixels(gallery.pair_jpeg(db.store, pairs[0], mode))
    assert picture[: gallery.PAIR_HEIGHT].mean() > 60  # the pair on white, with both photos in it


def test_cropping_to_a_region_that_is_off_the_photo_or_degenerate_shows_nothing():
    rgb = np.full((100, 200, 3), 200, np.uint8)
    inside = gallery.crop_to_region(rgb, np.array([[50.0, 20], [150, 20], [150, 80], [50, 80]]))
    assert inside.shape == (66, 110, 3)  # the box (100 x 60) and 5 % of it on each side
    for region in ([[300.0, 20], [400, 20], [400, 80]],  # beside the photo
                   [[50.0, 20], [np.inf, 20], [150, 80]],  # mapped to infinity by a degenerate alignment
                   [[50.0, 20], [np.nan, 20], [150, 80]]):
        assert not gallery.crop_to_region(rgb, np.array(region)).any()


def test_a_region_that_cannot_be_carried_into_a_later_photo_hides_that_photo():
    baseline = Photo(region=[[10.0, 10], [90, 10], [90, 60], [10, 60]])

    def later(matrix):
        done = [PhotoAnalysis(analysis_version=analysis.__version__, stale=False,
                              result={"alignment": {"method": "features", "matrix": matrix}})]
        return Photo(region=None, analyses=done if matrix is not None else [])

    assert gallery._marked_region(later(np.eye(3).tolist()), baseline).tolist() == baseline.region
    assert gallery._marked_region(later(None), baseline) is None  # not analysed (yet, or it failed)
    assert gallery._marked_region(later(np.zeros((3, 3)).tolist()), baseline) is None  # singular
    horizon = [[1.0, 0, 0], [0, 1, 0], [0.02, 0, 1]]  # its inverse sends x > 50 beyond infinity
    assert gallery._marked_region(later(horizon), baseline) is None


@pytest.mark.parametrize("mode", ["mask_eyes", "crop_lower_face"])
def test_a_face_inside_a_body_area_s_crop_is_still_hidden(mode):
    """A neck region marked from just below the eyes: its bounding box shows the eyes, which the mode hides."""
    rgb = decode(sample_bytes(1)).rgb
    face = locate_face(rgb).face
    eyes = face.xy[[468, 473]]  # the iris centres
    top = eyes[:, 1].max() + 0.3 * face.inter_ocular_px
    neck = np.array([[eyes[0, 0] - 200, top], [eyes[1, 0] + 200, top - 120],  # slanted: the box reaches the eyes
                     [eyes[1, 0] + 200, rgb.shape[0] - 50], [eyes[0, 0] - 200, rgb.shape[0] - 50]])
    crop = gallery.crop_to_region(rgb, neck)
    left, upper = np.floor(np.maximum(neck.min(axis=0) - gallery.REGION_MARGIN * np.ptp(neck, axis=0), 0)).astype(int)
    x, y = int(eyes[1, 0]) - left, int(eyes[1, 1]) - upper  # the right eye, in the crop
    assert 10 <= y and crop[y - 10:y + 11, x - 10:x + 11].max() > 100  # the bare crop shows it: iris and white
    shown = gallery.deidentify(rgb, mode, region=neck)
    if mode == "mask_eyes":
        assert shown.shape == crop.shape and shown[y - 10:y + 11, x - 10:x + 11].max() == 0
    else:
        assert shown.shape[0] < crop.shape[0] - y  # cut below the eyes


# --- the app ------------------------------------------------------------------------------

def app(root, monkeypatch) -> AppTest:
    monkeypatch.setenv("TRACKER_DATA_DIR", str(root))
    return AppTest.from_file(APP, default_timeout=120)


def as_staff(root, monkeypatch, client_id: int, page: str) -> AppTest:
    at = app(root, monkeypatch)
    at.run()
    at.text_input(key="username").input("lee")
    at.text_input(key="password").input(PASSWORD)
    at.button[0].click().run()
    at.session_state.client_id = client_id
    return at.switch_page(f"app_pages/{page}.py").run()


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def test_session_page_checks_off_the_views_and_records_the_hexsel_score(sampled, sample_root, monkeypatch):
    db, ids = sampled
    with db.session() as s:
        course = records.get_client(s, ACTOR, ids["cellulite"]).courses[0]
        extra = records.add_session(s, ACTOR, course.id, date(2026, 5, 11), "Dr Lee", "gun", ["body"],
                                    confirmed=True)
        s.commit()
        scored, new = course.sessions[-2].id, extra.id
    at = as_staff(sample_root, monkeypatch, ids["cellulite"], "session")
    assert not at.exception, at.exception
    at.selectbox(key="photo_session").set_value(scored).run()
    shown = texts(at.markdown)
    assert "Posterior thighs and buttocks**: from behind" in shown and "(taken)" in shown
    assert "Lateral, left**" in shown and "1 of 3 taken in this session" in shown
    assert "light from above" in texts(at.caption)
    assert at.selectbox(key="view_choice").value == "posterior_thighs"  # the template's views come first
    assert len(at.get("image")) >= 2  # the aligned before/after beside the form
    # Correct the recorded score: a reason is needed, and the previous score is kept.
    at.selectbox(key=f"hexsel_laxity_{scored}").set_value(3)
    at.button(key=f"FormSubmitter:hexsel_{scored}-Correct the score").click().run()
    assert "a correction needs a reason" in texts(at.error)
    at.selectbox(key=f"hexsel_laxity_{scored}").set_value(3)
    at.text_input(key=f"hexsel_why_{scored}").input("re-scored with the lateral views")
    at.button(key=f"FormSubmitter:hexsel_{scored}-Correct the score").click().run()
    assert not at.exception and "Hexsel score 9/15 corrected" in texts(at.success)
    # A session without a score gets the form to record one, and nothing of this session is checked off.
    at.selectbox(key="photo_session").set_value(new).run()
    assert "0 of 3 taken in this session" in texts(at.markdown)
    at.selectbox(key=f"hexsel_depressions_number_{new}").set_value(2)
    at.selectbox(key=f"hexsel_nurnberger_muller_{new}").set_value(1)
    at.button(key=f"FormSubmitter:hexsel_{new}-Record the score").click().run()
    assert not at.exception and "Hexsel score 3/15 recorded" in texts(at.success)
    with db.session() as s:
        assert records.get_session(s, ACTOR, new).hexsel.total == 3
        assert records.get_session(s, ACTOR, scored).hexsel.laxity == 3
        version = s.scalars(select(RecordVersion).where(RecordVersion.entity == "hexsel")).all()[-1]
        assert version.previous == {"laxity": 1}


def test_progress_page_of_the_sample_hair_loss_course(sampled, sample_root, monkeypatch):
    db, ids = sampled
    at = as_staff(sample_root, monkeypatch, ids["hair-loss"], "progress")
    assert not at.exception and not at.error
    lines = texts(at.markdown)
    assert "scalp showing down" in lines and "part width down" in lines and "beyond measurement noise" in lines
    assert "redness" not in lines
    assert "printed 10 mm marker" in texts(at.caption)
    assert len(at.get("vega_lite_chart")) == 2 and len(at.get("image")) >= 2
    assert not any("By region" in h.value for h in at.subheader)
    # The client sees their own course, in plain words.
    with db.session() as s:
        code = records.reset_access_code(s, ACTOR, ids["hair-loss"])
        s.commit()
    at = app(sample_root, monkeypatch)
    at.run()
    at.text_input(key="access_code").input(code)
    at.button[1].click().run()
    assert at.title[0].value == "Your progress" and not at.exception
    at.session_state.client_id = ids["cellulite"]  # whatever the session state says: their own only
    at.run()
    assert "scalp showing down" in texts(at.markdown) and "since the first session" in texts(at.markdown)
    assert not any("Hexsel" in h.value for h in at.subheader)


def test_progress_page_of_the_sample_cellulite_course_shows_the_hexsel_scores(sampled, sample_root, monkeypatch):
    db, ids = sampled
    at = as_staff(sample_root, monkeypatch, ids["cellulite"], "progress")
    assert not at.exception and not at.error
    assert any("Hexsel" in h.value for h in at.subheader)
    table = at.dataframe[0].value
    assert list(table.columns)[-1] == "Total of 15" and table.iloc[0, -1] == "11 (severe)"
    assert list(table.iloc[0, :-1]) == [3, 3, 2, 1, 2]  # the first session's items, as scored
    assert "dimple shadows down" in texts(at.markdown)
    assert len(at.get("vega_lite_chart")) == 2  # the Hexsel total and the dimple shadows


def test_a_photo_analysed_before_its_course_measured_the_area_asks_for_a_new_analysis():
    old = {"alignment": {"comparable": True, "reasons": []}, "change": {"redness_a_star": -1.0},
           "noise": {"redness_a_star": 0.5}, "beyond_noise": {"redness_a_star": True}}
    row = progress.ProgressRow(2, date(2026, 2, 9), "vertex", 7, "compared", True, metrics=("scalp_visible_pct",),
                               _result=old)
    shown = row.change("scalp_visible_pct")
    assert shown.verdict == progress.NOT_MEASURED and shown.change is None
    assert shown.reasons[0]["code"] == "noise_unknown" and "analyse it again" in shown.reasons[0]["message"]
