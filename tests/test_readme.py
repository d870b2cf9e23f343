"""The README's command-line walk-through, run line by line as written, on a fresh data folder.

The commands are parsed from the README itself, so the two cannot drift apart.
"""

from __future__ import annotations

import pathlib
import re
import shlex

import pytest

from tracker.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[1]


def walkthrough(heading: str = "Clinic records") -> list[list[str]]:
    """Each ``python -m tracker ...`` command of the code block under a README heading, as argv."""
    section = ROOT.joinpath("README.md").read_text().split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"((?:\n    .*)+)", section).group(1)
    commands = []
    for line in block.strip("\n").splitlines():
        for part in line.strip().split(" ; "):
            argv = shlex.split(part, comments=True)
            assert argv[:3] == ["python", "-m", "tracker"], part
            commands.append(argv[3:])
    return commands


def test_the_readme_walkthrough_runs_as_written(tmp_path, monkeypatch, capsys):
    commands = walkthrough()
    assert len(commands) > 25 and ["init"] in commands
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRACKER_DATA_DIR", raising=False)
    monkeypatch.delenv("TRACKER_DATABASE_URL", raising=False)
    (tmp_path / "sample_images").symlink_to(ROOT / "sample_images")
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "a long enough secret")
    outputs = {}
    for argv in commands:
        code = main(argv)
        out = capsys.readouterr()
        assert code == 0, f"{shlex.join(argv)}: {out.err}"
        outputs[shlex.join(argv[:2])] = out.out
    assert "analysed 0 photos" not in outputs["analyse"]
    assert "client 1 Ada Example" in outputs["recall B2301"] and "session 1 " in outputs["recall B2301"]
    assert "next due 2026-03-09" in outputs["client show"]
    assert "new e-mail address" in outputs["client history"] and "stopped" not in outputs["client history"]
    assert (tmp_path / "access-card.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "restored" / "tracker.db").exists() and (tmp_path / "out" / "client.json").exists()
    assert "user ada (practitioner) added" in outputs["user add"]


def test_the_readme_clinics_commands_run_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRACKER_DATA_DIR", raising=False)
    monkeypatch.delenv("TRACKER_DATABASE_URL", raising=False)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "a long enough secret")
    assert main(["init"]) == 0
    outputs = {}
    for argv in walkthrough("Clinics within a group"):
        code = main(argv)
        out = capsys.readouterr()
        assert code == 0, f"{shlex.join(argv)}: {out.err}"
        outputs[shlex.join(argv[:2])] = out.out
    assert "Main clinic" in outputs["clinic list"] and "North" in outputs["clinic list"]
    assert "user bob now works in: North" in outputs["user leave"]
    assert "Nia" in outputs["client list"]


@pytest.mark.parametrize("line", ["python -m tracker init ; python -m tracker client list  # two, then a comment"])
def test_the_parser_reads_chained_commands_and_comments(line, monkeypatch):
    text = f"## Clinic records\n\n    {line}\n\nprose\n"
    monkeypatch.setattr(pathlib.Path, "read_text", lambda self: text)
    assert walkthrough() == [["init"], ["client", "list"]]
