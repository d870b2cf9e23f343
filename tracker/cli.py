"""Command line over the records: ``python -m tracker --help``.

Every command works on one data folder (``--data``, else ``TRACKER_DATA_DIR``,
else ``./data``), its database (``--database-url``, else ``TRACKER_DATABASE_URL``,
else SQLite in the folder) and its photo store (``--photo-store``, else
``TRACKER_PHOTO_STORE``, else ``photos/`` in the folder), and records who did
it (``--actor``, else ``$USER``) in the audit log. Bad input gives one ``error: ...`` line and exit status 2. User
text (names, notes, file names) is printed with control characters and line
breaks escaped, so that it can neither fake output lines nor drive the
terminal.

The command line acts as the server's owner (``access.owner``; whoever can run it can
read the data folder anyway): it can manage staff accounts, erase clients and
make backups, which the app allows only to admins. It sees every clinic of a
group; ``--clinic NAME`` picks one where a command needs it (``client add``
when there are several, ``user add`` for a practitioner, ``gallery export``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import pathlib
import sys
import threading
import unicodedata
from datetime import date

from analysis.cli import parse_polygon

from . import backup as backups
from . import access, calibration, cards, clientdata, clinics, gallery, photos, progress, records, worker
from .db import data_folder, init_data_folder, open_data_folder
from .errors import NeedsConfirmation, RecordError
from .models import CONSENT_KINDS, CONTRAINDICATIONS, COURSE_STATUSES, HEXSEL_ITEMS, REMOVAL_REASONS, ROLES, TECHNIQUES
from .photostore import atomic_write

EXIT_ERROR = 2
_CONTROL = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def printable(text) -> str:
    """``text`` with control and format characters (newlines, escapes, bidi overrides) escaped."""
    return "".join(c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) in _CONTROL else c
                   for c in str(text))


class CheckFailed(RecordError):
    """``check`` found problems: ``report`` goes to stdout, the message to stderr."""

    def __init__(self, report: str, message: str):
        super().__init__(message)
        self.report = report



def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad date {text!r}: use YYYY-MM-DD") from None


UNCHANGED = type("Unchanged", (), {"__repr__": lambda self: "unchanged"})()  # argparse leaves non-str defaults alone


def parse_optional_date(text: str) -> date | None:
    """A date, or ``none`` to clear one."""
    return None if text.strip().lower() == "none" else parse_date(text)


def parse_product(text: str) -> dict:
    """``"name|batch|expiry|volume_ml"``; expiry and volume may be empty."""
    try:
        return records.parse_product_line(text)
    except RecordError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _areas(text: str) -> list[str]:
    return [a.strip() for a in text.split(",") if a.strip()]


def _hexsel(text: str) -> dict:
    """``"3,2,2,1,2"``: the five Hexsel items in the order of HEXSEL_ITEMS (range checked by the records)."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != len(HEXSEL_ITEMS) or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r}: write the five scores as whole numbers, e.g. 3,2,2,1,2")
    return dict(zip(HEXSEL_ITEMS, map(int, parts)))


def progress_bar(done: int, total: int, label: str) -> None:
    width = 30
    filled = round(width * done / total) if total else width
    line = f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label:<40}"
    sys.stderr.write(line if sys.stderr.isatty() else line.strip("\r") + "\n")
    if done == total and sys.stderr.isatty():
        sys.stderr.write("\n")
    sys.stderr.flush()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tracker", description="Clinic records for before/after photos.")
    p.add_argument("--data", help="the data folder (default: $TRACKER_DATA_DIR or ./data)")
    p.add_argument("--database-url", help="SQLAlchemy URL (default: $TRACKER_DATABASE_URL, else SQLite in the "
                   "data folder)")
    p.add_argument("--photo-store", help="where the photos are: s3://bucket/prefix (default: $TRACKER_PHOTO_STORE, "
                   "else photos/ in the data folder)")
    p.add_argument("--actor", default=os.environ.get("USER", "cli"), help="who is acting, for the audit log")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("init", help="create or upgrade a data folder")

    user = sub.add_parser("user", help="staff accounts").add_subparsers(dest="action", required=True)
    u = user.add_parser("add", help="add a practitioner or admin (password read from the terminal or stdin)")
    u.add_argument("username")
    u.add_argument("--role", choices=ROLES, required=True)
    u.add_argument("--name", default="")
    u.add_argument("--clinic", action="append", default=[],
                   help="a clinic the account works in (repeat for several; default: the only clinic)")
    u.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    user.add_parser("list", help="every staff account")
    for verb, what in (("join", "add an account to a clinic"), ("leave", "take an account out of a clinic")):
        u = user.add_parser(verb, help=what)
        u.add_argument("username")
        u.add_argument("clinic")

    clinic = sub.add_parser("clinic", help="the clinics of a group").add_subparsers(dest="action", required=True)
    clinic.add_parser("add", help="add a clinic").add_argument("name")
    clinic.add_parser("list", help="every clinic, with its numbers of clients and staff")
    floors = sub.add_parser("floors", help="a clinic's own noise floors (python -m analysis calibrate)")
    floors = floors.add_subparsers(dest="action", required=True)
    f = floors.add_parser("set", help="use a floors file for a clinic's analyses (they are run again)")
    f.add_argument("file", type=pathlib.Path)
    f.add_argument("--clinic", help="the clinic's name (needed when there are several)")
    f = floors.add_parser("show", help="each measure's detection limit at a clinic, and where it comes from")
    f.add_argument("--clinic", help="the clinic's name (needed when there are several)")
    u = user.add_parser("deactivate", help="stop an account signing in and end its open sessions")
    u.add_argument("username")
    u = user.add_parser("reset-password", help="set a new password (or print a temporary one with --temporary)")
    u.add_argument("username")
    u.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    u.add_argument("--temporary", action="store_true", help="generate a temporary password and print it once")

    client = sub.add_parser("client", help="clients").add_subparsers(dest="action", required=True)
    c = client.add_parser("add")
    c.add_argument("--name", required=True)
    c.add_argument("--dob", type=parse_date)
    c.add_argument("--contact", default="")
    c.add_argument("--fitzpatrick", type=int, choices=range(1, 7))
    c.add_argument("--notes", default="")
    c.add_argument("--clinic", help="the client's clinic (needed when there are several)")
    c = client.add_parser("list")
    c.add_argument("--search", default="")
    c.add_argument("--clinic", help="only this clinic's clients")
    c = client.add_parser("show")
    c.add_argument("client", type=int)
    c = client.add_parser("edit", help="correct a client's details (the previous values are kept)")
    c.add_argument("client", type=int)
    c.add_argument("--reason", required=True)
    c.add_argument("--name")
    c.add_argument("--dob", type=parse_optional_date, default=UNCHANGED, help="YYYY-MM-DD, or none")
    c.add_argument("--contact")
    c.add_argument("--fitzpatrick", type=int, choices=range(1, 7))
    c.add_argument("--notes")
    c = client.add_parser("history", help="every correction of a client's records")
    c.add_argument("client", type=int)
    c = client.add_parser("code", help="issue a new access code for the client portal (the old one stops working)")
    c.add_argument("client", type=int)
    c.add_argument("--card", type=pathlib.Path, help="also write a printable card (PDF) to this file")
    c.add_argument("--portal", default=os.environ.get("TRACKER_PORTAL_URL", ""), help="the portal's address")

    screening = sub.add_parser("screening", help="medical history").add_subparsers(dest="action", required=True)
    sc = screening.add_parser("add")
    sc.add_argument("client", type=int)
    sc.add_argument("--date", type=parse_date, default=date.today())
    sc.add_argument("--contraindication", action="append", default=[], choices=list(CONTRAINDICATIONS),
                    help="one found at this consultation (repeat for several)")
    sc.add_argument("--patch-test-date", type=parse_date)
    sc.add_argument("--patch-test-result", choices=("negative", "positive"))
    sc.add_argument("--notes", default="")
    sc = screening.add_parser("edit", help="correct a recorded screening")
    sc.add_argument("screening", type=int)
    sc.add_argument("--reason", required=True)
    sc.add_argument("--date", type=parse_date)
    sc.add_argument("--add", action="append", default=[], choices=list(CONTRAINDICATIONS),
                    help="a contraindication that was present (repeat for several)")
    sc.add_argument("--remove", action="append", default=[], choices=list(CONTRAINDICATIONS),
                    help="a contraindication recorded by mistake (repeat for several)")
    sc.add_argument("--patch-test-date", type=parse_optional_date, default=UNCHANGED)
    sc.add_argument("--patch-test-result", choices=("negative", "positive", "none"))
    sc.add_argument("--notes")

    consent = sub.add_parser("consent", help="consent records").add_subparsers(dest="action", required=True)
    for name in ("add", "withdraw"):
        cs = consent.add_parser(name)
        cs.add_argument("client", type=int)
        cs.add_argument("--kind", choices=CONSENT_KINDS, required=True)
        cs.add_argument("--date", type=parse_date, default=date.today())
        if name == "add":
            cs.add_argument("--signatory", required=True)
    cs = consent.add_parser("edit", help="correct a consent record (ids in 'client show')")
    cs.add_argument("consent", type=int)
    cs.add_argument("--reason", required=True)
    cs.add_argument("--date", type=parse_date)
    cs.add_argument("--signatory")
    cs.add_argument("--withdrawn", type=parse_optional_date, default=UNCHANGED, help="YYYY-MM-DD, or none")

    course = sub.add_parser("course", help="courses of treatment").add_subparsers(dest="action", required=True)
    co = course.add_parser("add")
    co.add_argument("client", type=int)
    co.add_argument("--treatment", required=True, help="e.g. 'skin rejuvenation', 'hair loss'")
    co.add_argument("--areas", type=_areas, required=True, help="comma-separated, e.g. face,neck")
    co.add_argument("--sessions", type=int, required=True)
    co.add_argument("--interval-days", type=int, default=28)
    co.add_argument("--start", type=parse_date, default=date.today())
    co.add_argument("--override-reason", help="start despite open contraindications, and why")
    co = course.add_parser("show", help="the course with each session's metric changes")
    co.add_argument("course", type=int)
    co.add_argument("--json", action="store_true")
    co = course.add_parser("status", help="mark a course planned, active, completed or stopped")
    co.add_argument("course", type=int)
    co.add_argument("status", choices=COURSE_STATUSES)
    co.add_argument("--reason", required=True)
    co = course.add_parser("marker", help="the side of the printed scale marker in hair-loss and cellulite photos")
    co.add_argument("course", type=int)
    co.add_argument("mm", type=float, nargs="?", help="side in mm; leave out when no marker is used")
    co.add_argument("--reason", required=True)
    co = course.add_parser("due", help="courses whose next session is due or overdue")
    co.add_argument("--within", type=int, default=7, help="also list those due within this many days")

    session = sub.add_parser("session", help="treatment sessions").add_subparsers(dest="action", required=True)
    se = session.add_parser("add")
    se.add_argument("course", type=int)
    se.add_argument("--date", type=parse_date, default=date.today())
    se.add_argument("--practitioner", required=True)
    se.add_argument("--technique", choices=TECHNIQUES, required=True)
    se.add_argument("--areas", type=_areas, default=[])
    se.add_argument("--product", type=parse_product, action="append", default=[],
                    help="'name|batch|expiry|ml' (repeat for several)")
    se.add_argument("--anaesthetic", default="")
    se.add_argument("--notes", default="")
    se.add_argument("--reactions", default="")
    se.add_argument("--aftercare", default="")
    se.add_argument("--confirm", action="store_true",
                    help="record it even beyond the planned count, out of date order or in the future")
    se = session.add_parser("hexsel", help="record or correct the session's Hexsel cellulite severity score")
    se.add_argument("session", type=int)
    se.add_argument("scores", type=_hexsel,
                    help="the five items 0-3, comma-separated: " + ", ".join(HEXSEL_ITEMS))
    se.add_argument("--reason", help="to correct a score already recorded")
    se = session.add_parser("edit", help="correct a session (the previous values are kept)")
    se.add_argument("session", type=int)
    se.add_argument("--reason", required=True)
    se.add_argument("--date", type=parse_date)
    se.add_argument("--practitioner")
    se.add_argument("--technique", choices=TECHNIQUES)
    se.add_argument("--product", type=parse_product, action="append",
                    help="'name|batch|expiry|ml' (repeat for several; replaces the session's products)")
    se.add_argument("--notes")
    se.add_argument("--confirm", action="store_true", help="accept a date out of order or in the future")

    ph = sub.add_parser("photos", help="session photos").add_subparsers(dest="action", required=True)
    im = ph.add_parser("import", help="import photo files, or folders of them, into one session")
    im.add_argument("session", type=int)
    im.add_argument("paths", type=pathlib.Path, nargs="+", metavar="PATH")
    im.add_argument("--view", help="front, left_45, right_45 or a body area; guessed from head pose if omitted")
    im.add_argument("--region", type=parse_polygon, help="for a body area: the polygon to measure, 'x,y x,y ...'")
    pl = ph.add_parser("list", help="a session's photos, removed ones marked")
    pl.add_argument("session", type=int)
    rm = ph.add_parser("remove", help="take a photo out of the record (wrong_client also deletes it)")
    rm.add_argument("photo", type=int)
    rm.add_argument("--reason", choices=list(REMOVAL_REASONS), required=True)
    rm.add_argument("--note", default="")
    mv = ph.add_parser("move", help="file a photo under another session or view")
    mv.add_argument("photo", type=int)
    mv.add_argument("--reason", required=True)
    mv.add_argument("--session", type=int)
    mv.add_argument("--view")
    bl = ph.add_parser("baseline", help="make a photo its course's baseline of its view")
    bl.add_argument("photo", type=int)
    bl.add_argument("--reason", required=True)

    rc = sub.add_parser("recall", help="every client and session that received a product batch")
    rc.add_argument("batch")

    an = sub.add_parser("analyse", help="analyse every photo not yet analysed")
    an.add_argument("--client", type=int)

    wk = sub.add_parser("worker", help="analyse pending photos until stopped (SIGTERM or SIGINT), for "
                                       "TRACKER_ANALYSIS=worker; several may run on PostgreSQL")
    wk.add_argument("--once", action="store_true", help="analyse what is pending, then exit")
    wk.add_argument("--poll", type=float, default=worker.DEFAULT_POLL_S, metavar="SECONDS",
                    help=f"seconds between looks at an empty queue (default {worker.DEFAULT_POLL_S:g})")

    ex = sub.add_parser("export", help="a client's records and photos (JSON + originals)")
    ex.add_argument("client", type=int)
    ex.add_argument("out", type=pathlib.Path)

    er = sub.add_parser("erase", help="delete a client completely (right to erasure)")
    er.add_argument("client", type=int)
    er.add_argument("--yes", action="store_true", help="confirm")

    ga = sub.add_parser("gallery", help="before/after galleries").add_subparsers(dest="action", required=True)
    ge = ga.add_parser("export")
    ge.add_argument("out", type=pathlib.Path)
    ge.add_argument("--date", type=parse_date, default=date.today())
    ge.add_argument("--clinic", help="only this clinic's clients (default: every clinic)")

    bk = sub.add_parser("backup", help="archive the records and photos (only photos not in --previous archives)")
    bk.add_argument("archive", type=pathlib.Path)
    bk.add_argument("--previous", type=pathlib.Path, nargs="+", default=[],
                    help="earlier archives: photos they hold are not copied again (incremental backup)")
    rs = sub.add_parser("restore", help="restore an archive into an empty data folder, database and photo store")
    rs.add_argument("archive", type=pathlib.Path)
    rs.add_argument("--previous", type=pathlib.Path, nargs="+", default=[],
                    help="the earlier archives an incremental backup builds on")

    ck = sub.add_parser("check", help="verify every photo against its hash")
    ck.add_argument("--collect-garbage", action="store_true", help="remove files no record refers to")
    return p


def _password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise RecordError("the passwords differ")
    return first


def run(args) -> str:
    """Carry out one command; returns what to print."""
    if args.command == "init":
        db = init_data_folder(args.data, args.database_url, args.photo_store)
        return f"data folder ready: {printable(db.folder.root)}"
    if args.command == "restore":
        target = data_folder(args.data, args.database_url, args.photo_store)
        manifest = backups.restore(args.archive, target, args.previous, actor=access.owner(args.actor))
        open_data_folder(args.data, args.database_url, args.photo_store).close()
        return (f"restored the records and {len(backups.photos_of(manifest))} photos into "
                f"{printable(target.root)}, all hashes verified")
    db = open_data_folder(args.data, args.database_url, args.photo_store)
    actor = access.owner(args.actor)
    if args.command == "worker":
        if args.poll <= 0:
            raise RecordError("--poll: give a number of seconds above 0")
        stop = threading.Event()
        worker.stop_on_signals(stop)
        try:
            done = worker.work(db, actor, once=args.once, poll_s=args.poll, stop=stop)
        finally:
            db.close()
        return f"worker stopped: {done} photos analysed"
    try:
        with db.session() as s:
            out = _dispatch(args, db, s, actor)
            s.commit()
            return out
    finally:
        db.close()


def _floors_command(args, s, actor) -> str:
    every = clinics.list_clinics(s, actor)
    if args.clinic is None and len(every) != 1:
        raise RecordError("name the clinic with --clinic: " + ", ".join(repr(c.name) for c in every))
    clinic = clinics.get_clinic(s, actor, _clinic_id(s, args.clinic)) if args.clinic else every[0]
    if args.action == "set":
        try:
            data = args.file.read_bytes()
        except OSError as exc:
            raise RecordError(f"{printable(args.file)}: {exc.strerror or exc}") from None
        stale = calibration.set_floors(s, actor, clinic.id, data)
        return (f"floors set for {printable(clinic.name)}; {stale} analyses will run again with them "
                "(python -m tracker analyse)")
    _, rows = calibration.quality(s, actor, clinic.id, [m.name for m in progress.SUMMARY])
    return "\n".join(f"{r.limit.scope:<12} {r.limit.sentence()}" for r in rows)


def _clinic_id(s, name: str | None) -> int | None:
    """The id of the clinic named ``name`` (None when no name is given)."""
    return access.clinics_named(s, [name])[0].id if name is not None else None


def _clinic_names(user) -> str:
    return ", ".join(printable(c.name) for c in user.clinics) or "-"


def _user_command(args, s, owner) -> str:
    if args.action == "add":
        user = access.add_user(s, owner, args.username, _password(args), args.role, args.name, args.clinic)
        return f"user {user.username} ({user.role}) added, clinics: {_clinic_names(user)}"
    if args.action == "list":
        return "\n".join(f"{u.username:<20} {u.role:<13} {'active' if u.active else 'deactivated':<12} "
                         f"{printable(u.display_name)}; clinics: {_clinic_names(u)}"
                         for u in access.list_users(s, owner)) or "no staff accounts"
    if args.action in ("join", "leave"):
        change = access.join_clinic if args.action == "join" else access.leave_clinic
        user = change(s, owner, args.username, args.clinic)
        return f"user {user.username} now works in: {_clinic_names(user)}"
    if args.action == "deactivate":
        user = access.deactivate_user(s, owner, args.username)
        return f"user {user.username} deactivated"
    password = access.reset_password(s, owner, args.username, None if args.temporary else _password(args))
    shown = f"; temporary password (shown once): {password}" if args.temporary else ""
    return f"password of {args.username} reset{shown}"


def _dispatch(args, db, s, actor) -> str:
    command, action = args.command, getattr(args, "action", None)
    if command == "user":
        return _user_command(args, s, actor)
    if command == "clinic" and action == "add":
        clinic = clinics.add_clinic(s, actor, args.name)
        return f"clinic {clinic.id} added: {printable(clinic.name)}"
    if command == "floors":
        return _floors_command(args, s, actor)
    if command == "clinic":
        return "\n".join(f"{c.id:>4}  {printable(c.name):<30} {clients} clients, {staff} staff"
                         for c, clients, staff in clinics.clinic_summary(s, actor))
    if command == "client" and action == "add":
        client, code = records.add_client(s, actor, args.name, args.dob, args.contact, args.fitzpatrick, args.notes,
                                          _clinic_id(s, args.clinic))
        where = f" in {printable(client.clinic.name)}" if clinics.clinic_count(s) > 1 else ""
        return f"client {client.id} added{where}\naccess code for the client portal (shown once): {code}"
    if command == "client" and action == "list":
        rows = records.client_overview(s, actor, args.search, clinic_id=_clinic_id(s, args.clinic))
        return "\n".join(f"{c.id:>6}  {printable(c.name):<30} born {c.date_of_birth or '-'}  {c.courses} courses, "
                         f"{c.sessions} sessions, last {c.last_session or '-'}" for c in rows) or "no clients"
    if command == "client" and action == "show":
        return _show_client(s, records.get_client(s, actor, args.client, record_view=True))
    if command == "client" and action == "edit":
        changes = {k: getattr(args, k) for k in ("name", "contact", "fitzpatrick", "notes")
                   if getattr(args, k) is not None}
        if args.dob is not UNCHANGED:
            changes["date_of_birth"] = args.dob
        fields = records.update_client(s, actor, args.client, args.reason, **changes)
        return f"client {args.client} corrected: {', '.join(fields)}"
    if command == "client" and action == "history":
        records.audit(s, actor, "view", "client", args.client, args.client, part="history")
        return "\n".join(f"{v.at:%Y-%m-%d %H:%M} {v.actor}: {v.entity} {v.entity_id}, before: "
                         f"{json.dumps(v.previous)}; reason: {v.reason}"
                         for v in records.history(s, actor, args.client)) or "no corrections"
    if command == "client" and action == "code":
        code = records.reset_access_code(s, actor, args.client)
        lines = [f"new access code for client {args.client} (shown once; the old one no longer works): {code}"]
        if args.card:
            name = records.get_client(s, actor, args.client).name
            atomic_write(args.card, cards.access_card_pdf(name, code, args.portal))
            lines.append(f"printable card written to {args.card}")
        return "\n".join(lines)
    if command == "screening" and action == "edit":
        changes = {field: True for field in args.add} | {field: False for field in args.remove}
        for key, value in (("screened_on", args.date), ("notes", args.notes)):
            if value is not None:
                changes[key] = value
        if args.patch_test_date is not UNCHANGED:
            changes["patch_test_on"] = args.patch_test_date
        if args.patch_test_result:
            changes["patch_test_result"] = None if args.patch_test_result == "none" else args.patch_test_result
        fields = records.amend_screening(s, actor, args.screening, args.reason, **changes)
        return f"screening {args.screening} corrected: {', '.join(fields)}"
    if command == "screening":
        screening = records.record_screening(s, actor, args.client, args.date, set(args.contraindication),
                                             args.patch_test_date, args.patch_test_result, args.notes)
        found = screening.open_contraindications
        state = f"open: {'; '.join(found)}" if found else "no contraindications"
        return f"screening {screening.id} recorded; {state}"
    if command == "consent" and action == "add":
        consent = records.give_consent(s, actor, args.client, args.kind, args.date, args.signatory)
        return f"{args.kind} consent {consent.id} recorded"
    if command == "consent" and action == "edit":
        withdrawn = "unchanged" if args.withdrawn is UNCHANGED else args.withdrawn
        fields = records.amend_consent(s, actor, args.consent, args.reason, args.date, args.signatory, withdrawn)
        return f"consent {args.consent} corrected: {', '.join(fields)}"
    if command == "consent" and action == "withdraw":
        records.withdraw_consent(s, actor, args.client, args.kind, args.date)
        return f"{args.kind} consent withdrawn from {args.date}"
    if command == "course" and action == "add":
        course = records.start_course(s, actor, args.client, args.treatment, args.areas, args.sessions,
                                      args.interval_days, args.start, args.override_reason)
        reason = course.override_reason
        note = f" (contraindications overridden: {printable(reason)})" if reason else ""
        return f"course {course.id} started{note}"
    if command == "course" and action == "show":
        course = records.get_course(s, actor, args.course)
        records.audit(s, actor, "view", "course", course.id, course.client_id)
        rows = progress.course_progress(s, actor, course)
        scores = progress.hexsel_scores(course)
        if args.json:
            by_session = {x.session: x.to_dict() for x in scores}
            return json.dumps([r.to_dict() | ({"hexsel": by_session[r.session]} if r.session in by_session else {})
                               for r in rows], indent=2)
        return _progress_table(course, rows, scores)
    if command == "course" and action == "status":
        records.set_course_status(s, actor, args.course, args.status, args.reason)
        return f"course {args.course} is now {args.status}"
    if command == "course" and action == "marker":
        stale = photos.set_marker_size(s, actor, args.course, args.mm, args.reason)
        return (f"course {args.course}: scale marker {'not used' if args.mm is None else f'{args.mm:g} mm'}; "
                f"{stale} analyses to re-run (python -m tracker analyse)")
    if command == "course" and action == "due":
        rows = records.due_courses(s, actor, within_days=args.within)
        return "\n".join(f"{d.due_on}  {'overdue ' + str(d.days_overdue) + ' days' if d.days_overdue > 0 else 'due'}"
                         f"  client {d.client_id} {printable(d.client_name)}, course {d.course_id} "
                         f"{printable(d.treatment)}, {d.sessions_done}/{d.planned_sessions} sessions"
                         for d in rows) or "no session due"
    if command == "session" and action == "add":
        try:
            ses = records.add_session(s, actor, args.course, args.date, args.practitioner, args.technique, args.areas,
                                      args.product, args.anaesthetic, args.notes, args.reactions, args.aftercare,
                                      confirmed=args.confirm)
        except NeedsConfirmation as exc:
            raise RecordError(f"{exc.message} with --confirm") from None
        return f"session {ses.id} recorded (number {ses.number} of course {args.course})"
    if command == "session" and action == "hexsel":
        if args.reason is None:
            score = records.record_hexsel(s, actor, args.session, **args.scores)
            return f"Hexsel score {score.total}/15 recorded for session {args.session}"
        fields = records.amend_hexsel(s, actor, args.session, args.reason, **args.scores)
        return f"Hexsel score of session {args.session} corrected: {', '.join(fields)}"
    if command == "session" and action == "edit":
        changes = {k: v for k, v in (("held_on", args.date), ("practitioner", args.practitioner),
                                     ("technique", args.technique), ("notes", args.notes)) if v is not None}
        try:
            fields = records.amend_session(s, actor, args.session, args.reason, args.product, args.confirm, **changes)
        except NeedsConfirmation as exc:
            raise RecordError(f"{exc.message} with --confirm") from None
        return f"session {args.session} corrected: {', '.join(fields)}"
    if command == "photos" and action == "import":
        region = args.region.tolist() if args.region is not None else None
        items = [photos.Incoming(i.name, i.data, args.view, region) for path in args.paths
                 for i in photos.files_in(path)]
        added = photos.import_photos(s, db.store, actor, args.session, items)
        return "\n".join(f"photo {p.id}: {printable(p.original_name)} as {printable(p.view)}" for p in added)
    if command == "photos" and action == "list":
        return "\n".join(f"photo {p.id}: {printable(p.original_name)} as {printable(p.view)}"
                         + (f" (removed: {p.removed_reason})" if p.removed_at else "")
                         for p in records.get_session(s, actor, args.session).all_photos) or "no photos"
    if command == "photos":
        if action == "remove":
            stale = photos.remove_photo(s, db.store, actor, args.photo, args.reason, args.note)
            done = f"photo {args.photo} removed ({args.reason})"
        elif action == "move":
            stale = photos.move_photo(s, actor, args.photo, args.reason, args.session, args.view)
            done = f"photo {args.photo} moved"
        else:
            stale = photos.choose_baseline(s, actor, args.photo, args.reason)
            done = f"photo {args.photo} is now the baseline of its view"
        return done + (f"; {stale} analyses to re-run: python -m tracker analyse" if stale else "")
    if command == "recall":
        hits = records.batch_recall(s, actor, args.batch)
        return "\n".join(f"client {h.client_id} {printable(h.client_name)} ({printable(h.contact) or 'no contact'}): "
                         f"course {h.course_id}, session {h.session_number} on {h.held_on}, "
                         f"{printable(h.product)} batch {printable(h.batch)}" for h in hits) \
            or f"no session used batch {printable(args.batch)}"
    if command == "analyse":
        s.commit()
        done = photos.analyse_pending(s, db.store, actor, args.client,
                                      lambda i, n, p: progress_bar(i, n, f"photo {p.id} ({printable(p.view)})"))
        failed = [a for a in done if a.error_code]
        lines = [f"analysed {len(done) - len(failed)} photos"]
        lines += [f"photo {a.photo_id}: {a.error_code}: {printable(a.error_message)}" for a in failed]
        busy = photos.pending(s, actor, args.client)  # what is left is being analysed by another live run
        if busy:
            lines.append(f"{len(busy)} photo(s) skipped: another run is analysing them now "
                         f"({', '.join(str(p.id) for p in busy)}); run analyse again once it has finished")
        return "\n".join(lines)
    if command == "export":
        path = clientdata.export_client(s, db.store, actor, args.client, args.out)
        return f"exported to {printable(path.parent)}"
    if command == "erase":
        if not args.yes:
            raise RecordError("erasure cannot be undone: add --yes to confirm")
        s.close()
        removed = clientdata.erase_client(db, db.store, actor, args.client)
        return f"client {args.client} erased ({removed} photo files removed)"
    if command == "gallery":
        written = gallery.export_gallery(s, db.store, actor, args.out, args.date,
                                         clinic_id=_clinic_id(s, args.clinic))
        return f"{len(written)} before/after pairs exported to {printable(args.out)}"
    if command == "backup":
        manifest = backups.backup(db, args.archive, args.previous, actor=actor)
        return (f"backed up the records and {len(manifest['files']) - 1} photos to {printable(args.archive)} "
                f"({len(manifest['photos'])} photos in all)")
    if command == "check":
        return _check(db, args.collect_garbage)
    raise RecordError(f"unknown command {command} {action or ''}")


def _check(db, collect: bool) -> str:
    """Verify every referenced original; report (or, collecting, remove) files no record refers to."""
    def referenced() -> set[str]:
        with db.session() as s:
            return photos.referenced_hashes(s)

    def waiting() -> None:
        sys.stderr.write("waiting for a running import or erasure to finish...\n")
        sys.stderr.flush()

    expected = referenced()
    problems = db.store.verify(expected)
    lines = [f"{p.sha256}: {p.problem}" for p in problems] + [f"{len(expected) - len(problems)} photos verified"]
    if collect:
        removed = db.store.collect_garbage(referenced, on_wait=waiting)
        lines += [f"removed {p.sha256} ({p.problem})" for p in removed]
        lines.append(f"removed {len(removed)} unreferenced files")
        leftovers = []
    else:
        with db.store.locked(exclusive=True, on_wait=waiting):
            leftovers = db.store.unreferenced(referenced())
        lines += [f"{p.sha256}: {p.problem}" for p in leftovers]
    if problems or leftovers:
        advice = " (remove unreferenced files with 'check --collect-garbage')" if leftovers else ""
        raise CheckFailed("\n".join(lines), f"{len(problems) + len(leftovers)} problems in the photo store{advice}")
    return "\n".join(lines)


def _show_client(s, client) -> str:
    """The client's record with the ids that corrections need."""
    lines = [f"client {client.id}: {printable(client.name)}", f"  born {client.date_of_birth or '-'}, "
             f"Fitzpatrick {client.fitzpatrick or '-'}, contact {printable(client.contact) or '-'}"]
    open_now = records.open_contraindications(client)
    lines.append("  contraindications: " + ("; ".join(open_now) if open_now else "none open"))
    lines += [f"  screening {x.id} on {x.screened_on}" for x in client.screenings]
    for kind in CONSENT_KINDS:
        lines.append(f"  {kind} consent: {'current' if records.has_consent(client, kind) else 'none'}")
    lines += [f"  consent {c.id}: {c.kind}, given {c.given_on}" + (f", withdrawn {c.withdrawn_on}" if c.withdrawn_on
                                                                   else "") for c in client.consents]
    for course in client.courses:
        due = records.next_due(course)
        lines.append(f"  course {course.id}: {printable(course.treatment)}, {printable(', '.join(course.areas))}, "
                     f"{len(course.sessions)}/{course.planned_sessions} sessions, {course.status}"
                     + (f", next due {due}" if due else ""))
        lines += [f"    session {x.id} (number {x.number}) on {x.held_on}, {len(x.photos)} photos"
                  for x in course.sessions]
    return "\n".join(lines)


def _progress_table(course, rows, scores=()) -> str:
    """Each photo's change since baseline, +- noise; a pair that is not comparable shows why, not a number.

    One table per kind of view (a face, a scalp's midline part...), with that view's measures as columns;
    then the clinician's Hexsel scores, as scored.
    """
    lines = [f"course {course.id}: {printable(course.treatment)} ({printable(', '.join(course.areas))})"]
    notes = []
    for metrics in dict.fromkeys(r.summary for r in rows):
        lines += _view_table([r for r in rows if r.summary == metrics], metrics, notes)
    lines.append("baseline rows give values; later rows the change since baseline +- 95% noise; * beyond noise")
    scales = dict.fromkeys(f"  {printable(r.view)}: {r.scale_note()}" for r in rows if r.scale_note())
    if scales:
        lines += ["scale:", *scales]
    if scores:
        lines.append(f"{progress.HEXSEL.label} (clinician's score, {progress.HEXSEL.unit}; items: " + ", ".join(
            item.label.lower() for item in HEXSEL_ITEMS.values()) + ")")
        lines += [f"{x.session:>7} {x.held_on.isoformat():>10}  {x.total:>2} ({x.severity}): "
                  + " ".join(str(v) for v in x.items.values()) for x in scores]
    return "\n".join(lines + notes)


def _view_table(rows, metrics, notes: list) -> list[str]:
    width = 27
    cols = "".join(f"{f'{m.label} ({m.unit})':>{width}}" for m in metrics)
    lines = [f"{'session':>7} {'date':>10} {'view':>9}  {'status':<15}{cols}"]
    for r in rows:
        if r.status == "baseline":
            cells = "".join(f"{'-' if r.values.get(m.name) is None else f'{r.values[m.name]:.2f}':>{width}}"
                            for m in metrics)
        else:
            shown = [r.change(m.name) for m in metrics]
            cells = "".join(f"{c.cell():>{width}}" for c in shown)
            if not r.comparable:
                notes.append(f"  session {r.session} {printable(r.view)}: "
                             f"{printable(progress.reason_text(r.reasons, plain=False))}")
            notes += [f"  session {r.session} {printable(r.view)}, {c.metric.word}: {c.verdict}: "
                      f"{printable(c.why(plain=False))}"
                      for c in shown if r.comparable and not c.shown]
        status = r.status if r.status != "compared" or r.comparable else "not comparable"
        lines.append(f"{r.session:>7} {r.held_on.isoformat():>10} {printable(r.view):>9}  {status:<15}{cells}")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        print(run(args))
    except (RecordError, FileNotFoundError) as exc:
        if isinstance(exc, CheckFailed):
            print(exc.report)
        print(f"error: {printable(getattr(exc, 'message', exc))}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a bug, a full disk, a locked database: say so in one line, save nothing
        print(f"error: the command failed and saved nothing ({type(exc).__name__}: {_first_line(exc)})",
              file=sys.stderr)
        return 1
    return 0


def _first_line(exc: Exception) -> str:
    """The error's first line: a database error's statement, parameters and details (names, dates of birth,
    contacts typed into the record) follow it, and must not reach a terminal or a log."""
    lines = str(exc).strip().splitlines()
    return printable(lines[0] if lines else "")
