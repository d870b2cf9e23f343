"""The tracker's command line: a course from the sample photos, and clear errors on bad input."""

from __future__ import annotations

import io
import json
import shutil

import pytest

from tracker.cli import main
from tracker_helpers import COURSE, SAMPLES, injected

pytestmark = pytest.mark.backends


@pytest.fixture
def tracker(tmp_path, capsys):
    data = tmp_path / "data"

    def run(*argv):
        code = main(["--data", str(data), "--actor", "dr.cli", *map(str, argv)])
        out = capsys.readouterr()
        return code, out.out, out.err

    assert run("init")[0] == 0
    return run


def session_folder(tmp_path, number):
    folder = tmp_path / f"s{number}"
    folder.mkdir()
    shutil.copy(SAMPLES / f"session-{number}-front.jpg", folder)
    return folder


def test_a_course_from_the_command_line(tracker, tmp_path):
    code, out, _ = tracker("client", "add", "--name", "Ada Example", "--dob", "1985-12-10", "--fitzpatrick", "2")
    assert code == 0 and "access code" in out
    for kind in ("treatment", "photography"):
        code, _, _ = tracker("consent", "add", 1, "--kind", kind, "--signatory", "Ada Example", "--date", "2026-01-05")
        assert code == 0
    code, _, err = tracker("course", "add", 1, "--treatment", "skin rejuvenation", "--areas", "face", "--sessions", 4,
                           "--start", "2026-01-12")
    assert code == 2 and "no screening recorded" in err
    assert tracker("screening", "add", 1, "--date", "2026-01-05")[0] == 0
    assert tracker("course", "add", 1, "--treatment", "skin rejuvenation", "--areas", "face", "--sessions", 4,
                   "--start", "2026-01-12")[0] == 0
    for number in (1, 2):
        date = COURSE["sessions"][number - 1]["date"]
        assert tracker("session", "add", 1, "--date", date, "--practitioner", "Dr Ada", "--technique", "gun",
                       "--product", "HA complex|B1|2027-06-30|3")[0] == 0
        code, out, _ = tracker("photos", "import", number, session_folder(tmp_path, number))
        assert code == 0 and "as front" in out  # view guessed from head pose
    code, out, err = tracker("analyse")
    assert code == 0 and "analysed 2 photos" in out and "2/2" in err
    code, out, _ = tracker("course", "show", 1)
    assert code == 0 and "baseline" in out and "compared" in out
    code, out, _ = tracker("course", "show", 1, "--json")
    rows = json.loads(out)
    assert rows[1]["change"]["redness_a_star"]["change"] == pytest.approx(injected(2), abs=0.2)
    code, out, _ = tracker("client", "list")
    assert "Ada Example" in out and "2 sessions" in out
    assert tracker("check")[0] == 0
    archive = tmp_path / "backup.zip"
    assert tracker("backup", archive)[0] == 0
    code, out, _ = tracker("export", 1, tmp_path / "export")
    assert code == 0 and (tmp_path / "export" / "client.json").exists()
    code, _, err = tracker("erase", 1)
    assert code == 2 and "--yes" in err
    assert tracker("erase", 1, "--yes")[0] == 0
    code, _, err = tracker("client", "show", 1)
    assert code == 2 and "no client with id 1" in err


@pytest.mark.parametrize("argv,message", [
    (("client", "show", 42), "no client with id 42"),
    (("consent", "withdraw", 42, "--kind", "marketing"), "no client"),
    (("course", "show", 7), "no course with id 7"),
    (("photos", "import", 3, "/nonexistent"), "not a photo file or a folder"),
])
def test_bad_input_gives_one_error_line_and_exit_2(tracker, argv, message):
    code, _, err = tracker(*argv)
    assert code == 2 and err.startswith("error: ") and message in err and err.count("\n") == 1


def test_bad_dates_and_non_images(tracker, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        tracker("client", "add", "--name", "X", "--dob", "1985-02-30")
    assert exit_info.value.code == 2
    tracker("client", "add", "--name", "Ben Example")
    tracker("consent", "add", 1, "--kind", "treatment", "--signatory", "Ben", "--date", "2026-01-01")
    tracker("consent", "add", 1, "--kind", "photography", "--signatory", "Ben", "--date", "2026-01-01")
    tracker("screening", "add", 1, "--date", "2026-01-01")
    tracker("course", "add", 1, "--treatment", "hair loss", "--areas", "scalp", "--sessions", 4,
            "--start", "2026-01-02")
    tracker("session", "add", 1, "--date", "2026-01-02", "--practitioner", "Dr", "--technique", "manual")
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "scan.jpg").write_bytes(b"%PDF-1.7 this is a consent form, not a photo")
    code, _, err = tracker("photos", "import", 1, folder)
    assert code == 2 and "scan.jpg" in err and "not an image" in err


def test_uninitialised_folder(tmp_path, capsys):
    code = main(["--data", str(tmp_path / "nowhere"), "client", "list"])
    assert code == 2 and "tracker init" in capsys.readouterr().err


def test_user_add_reads_the_password_from_stdin(tracker, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough secret\n"))
    code, out, _ = tracker("user", "add", "ada", "--role", "admin", "--password-stdin")
    assert code == 0 and "ada (admin)" in out


def test_corrections_confirmations_and_recall_from_the_command_line(tracker, tmp_path):
    tracker("client", "add", "--name", "Cy Example", "--dob", "1990-03-04")
    tracker("screening", "add", 1, "--date", "2026-01-01")
    for kind in ("treatment", "photography"):
        tracker("consent", "add", 1, "--kind", kind, "--signatory", "Cy", "--date", "2026-01-01")
    tracker("course", "add", 1, "--treatment", "hair loss", "--areas", "scalp", "--sessions", 1,
            "--start", "2026-01-02")
    session = ("session", "add", 1, "--practitioner", "Dr", "--technique", "manual", "--product", "Hair mix|LOT-7||2")
    assert tracker(*session, "--date", "2026-02-01")[0] == 0
    code, _, err = tracker(*session, "--date", "2026-02-01")
    assert code == 2 and "recorded moments ago" in err
    code, _, err = tracker(*session, "--date", "2026-01-20")
    assert code == 2 and "plans 1 sessions" in err and "out of date order" in err and "--confirm" in err
    assert tracker(*session, "--date", "2026-01-20", "--confirm")[0] == 0
    code, out, _ = tracker("recall", "lot-7")
    assert code == 0 and out.count("client 1 Cy Example") == 2
    code, _, err = tracker("client", "edit", 1, "--dob", "1850-01-01", "--reason", "typo")
    assert code == 2 and "before 1900-01-01" in err
    assert tracker("screening", "edit", 1, "--add", "keloid_tendency", "--reason", "recalled later")[0] == 0
    code, out, _ = tracker("client", "show", 1)
    assert "keloid tendency" in out and "session 2 (number 2) on 2026-01-20" in out
    assert tracker("consent", "edit", 2, "--withdrawn", "2026-03-01", "--reason", "letter received")[0] == 0
    code, out, _ = tracker("photos", "import", 1, session_folder(tmp_path, 1) / "session-1-front.jpg")  # one file
    assert code == 0 and out.strip() == "photo 1: session-1-front.jpg as front"
    code, _, err = tracker("photos", "remove", 1, "--reason", "other")
    assert code == 2 and "say why in the note" in err
    code, out, _ = tracker("photos", "remove", 1, "--reason", "unusable")
    assert code == 0 and tracker("photos", "list", 1)[1].strip() == "photo 1: session-1-front.jpg as front " \
        "(removed: unusable)"
    code, out, _ = tracker("client", "history", 1)
    assert code == 0 and out.count("reason:") == 3 and "keloid_tendency" in out
    code, out, _ = tracker("course", "status", 1, "completed", "--reason", "all sessions done")
    assert code == 0 and tracker("course", "due")[1].strip() == "no session due"
