"""Command line over the records: ``python -m tracker --help``.

Every command works on one data folder (``--data``, else ``TRACKER_DATA_DIR``,
else ``./data``) and records who did it (``--actor``, else ``$USER``) in the
audit log. Bad input gives one ``error: ...`` line and exit status 2. User
text (names, notes, file names) is printed with control characters and line
breaks escaped, so that it can neither fake output lines nor drive the
terminal.

The command line acts as the server's owner, an admin (whoever can run it can
read the data folder anyway): it can manage staff accounts, erase clients and
make backups, which the app allows only to admins.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import pathlib
import sys
import unicodedata
from datetime import date

from analysis.cli import parse_polygon

from . import backup as backups
from . import clientdata, gallery, photos, progress, records
from . import access
from .db import data_folder, init_data_folder, open_data_folder
from .errors import RecordError
from .models import CONSENT_KINDS, CONTRAINDICATIONS, ROLES, TECHNIQUES

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


def parse_product(text: str) -> dict:
    """``"name|batch|expiry|volume_ml"``; expiry and volume may be empty."""
    try:
        return records.parse_product_line(text)
    except RecordError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _areas(text: str) -> list[str]:
    return [a.strip() for a in text.split(",") if a.strip()]


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
    p.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in the data folder)")
    p.add_argument("--actor", default=os.environ.get("USER", "cli"), help="who is acting, for the audit log")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("init", help="create or upgrade a data folder")

    user = sub.add_parser("user", help="staff accounts").add_subparsers(dest="action", required=True)
    u = user.add_parser("add", help="add a practitioner or admin (password read from the terminal or stdin)")
    u.add_argument("username")
    u.add_argument("--role", choices=ROLES, required=True)
    u.add_argument("--name", default="")
    u.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    user.add_parser("list", help="every staff account")
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
    c = client.add_parser("list")
    c.add_argument("--search", default="")
    c = client.add_parser("show")
    c.add_argument("client", type=int)

    screening = sub.add_parser("screening", help="medical history").add_subparsers(dest="action", required=True)
    sc = screening.add_parser("add")
    sc.add_argument("client", type=int)
    sc.add_argument("--date", type=parse_date, default=date.today())
    sc.add_argument("--contraindication", action="append", default=[], choices=list(CONTRAINDICATIONS),
                    help="one found at this consultation (repeat for several)")
    sc.add_argument("--patch-test-date", type=parse_date)
    sc.add_argument("--patch-test-result", choices=("negative", "positive"))
    sc.add_argument("--notes", default="")

    consent = sub.add_parser("consent", help="consent records").add_subparsers(dest="action", required=True)
    for name in ("add", "withdraw"):
        cs = consent.add_parser(name)
        cs.add_argument("client", type=int)
        cs.add_argument("--kind", choices=CONSENT_KINDS, required=True)
        cs.add_argument("--date", type=parse_date, default=date.today())
        if name == "add":
            cs.add_argument("--signatory", required=True)

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

    ph = sub.add_parser("photos", help="session photos").add_subparsers(dest="action", required=True)
    im = ph.add_parser("import", help="import a folder of one session's photos")
    im.add_argument("session", type=int)
    im.add_argument("folder", type=pathlib.Path)
    im.add_argument("--view", help="front, left_45, right_45 or a body area; guessed from head pose if omitted")
    im.add_argument("--region", type=parse_polygon, help="for a body area: the polygon to measure, 'x,y x,y ...'")

    an = sub.add_parser("analyse", help="analyse every photo not yet analysed")
    an.add_argument("--client", type=int)

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

    bk = sub.add_parser("backup", help="archive the whole data folder")
    bk.add_argument("archive", type=pathlib.Path)
    rs = sub.add_parser("restore", help="restore an archive into an empty data folder (--data)")
    rs.add_argument("archive", type=pathlib.Path)

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
        db = init_data_folder(args.data, args.database_url)
        return f"data folder ready: {printable(db.folder.root)}"
    if args.command == "restore":
        target = data_folder(args.data).root
        manifest = backups.restore(args.archive, target)
        open_data_folder(target).close()
        return f"restored {len(manifest['files'])} files into {printable(target)}, all hashes verified"
    db = open_data_folder(args.data, args.database_url)
    actor = args.actor
    try:
        with db.session() as s:
            out = _dispatch(args, db, s, actor)
            s.commit()
            return out
    finally:
        db.close()


def _user_command(args, s, owner) -> str:
    if args.action == "add":
        user = access.add_user(s, owner, args.username, _password(args), args.role, args.name)
        return f"user {user.username} ({user.role}) added"
    if args.action == "list":
        return "\n".join(f"{u.username:<20} {u.role:<13} {'active' if u.active else 'deactivated':<12} "
                         f"{printable(u.display_name)}" for u in access.list_users(s, owner)) or "no staff accounts"
    if args.action == "deactivate":
        user = access.deactivate_user(s, owner, args.username)
        return f"user {user.username} deactivated"
    password = access.reset_password(s, owner, args.username, None if args.temporary else _password(args))
    shown = f"; temporary password (shown once): {password}" if args.temporary else ""
    return f"password of {args.username} reset{shown}"


def _dispatch(args, db, s, actor) -> str:
    command, action = args.command, getattr(args, "action", None)
    owner = access.owner(actor)
    if command == "user":
        return _user_command(args, s, owner)
    if command == "client" and action == "add":
        client, code = records.add_client(s, actor, args.name, args.dob, args.contact, args.fitzpatrick, args.notes)
        return f"client {client.id} added\naccess code for the client portal (shown once): {code}"
    if command == "client" and action == "list":
        rows = records.client_overview(s, args.search)
        return "\n".join(f"{c.id:>6}  {printable(c.name):<30} born {c.date_of_birth or '-'}  {c.courses} courses, "
                         f"{c.sessions} sessions, last {c.last_session or '-'}" for c in rows) or "no clients"
    if command == "client" and action == "show":
        return _show_client(s, records.get_client(s, args.client, actor))
    if command == "screening":
        screening = records.record_screening(s, actor, args.client, args.date, set(args.contraindication),
                                             args.patch_test_date, args.patch_test_result, args.notes)
        found = screening.open_contraindications
        state = f"open: {'; '.join(found)}" if found else "no contraindications"
        return f"screening {screening.id} recorded; {state}"
    if command == "consent" and action == "add":
        consent = records.give_consent(s, actor, args.client, args.kind, args.date, args.signatory)
        return f"{args.kind} consent {consent.id} recorded"
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
        course = records.get_course(s, args.course)
        records.audit(s, actor, "view", "course", course.id, course.client_id)
        rows = progress.course_progress(s, course)
        return json.dumps([r.to_dict() for r in rows], indent=2) if args.json else _progress_table(course, rows)
    if command == "session":
        ses = records.add_session(s, actor, args.course, args.date, args.practitioner, args.technique, args.areas,
                                  args.product, args.anaesthetic, args.notes, args.reactions, args.aftercare)
        return f"session {ses.id} recorded (number {ses.number} of course {args.course})"
    if command == "photos":
        region = args.region.tolist() if args.region is not None else None
        items = [photos.Incoming(i.name, i.data, args.view, region) for i in photos.files_in(args.folder)]
        added = photos.import_photos(s, db.store, actor, args.session, items)
        return "\n".join(f"photo {p.id}: {printable(p.original_name)} as {printable(p.view)}" for p in added)
    if command == "analyse":
        s.commit()
        done = photos.analyse_pending(s, db.store, actor, args.client,
                                      lambda i, n, p: progress_bar(i, n, f"photo {p.id} ({printable(p.view)})"))
        failed = [a for a in done if a.error_code]
        lines = [f"analysed {len(done) - len(failed)} photos"]
        lines += [f"photo {a.photo_id}: {a.error_code}: {printable(a.error_message)}" for a in failed]
        return "\n".join(lines)
    if command == "export":
        path = clientdata.export_client(s, db.store, actor, args.client, args.out)
        return f"exported to {printable(path.parent)}"
    if command == "erase":
        access.require_admin(owner)
        if not args.yes:
            raise RecordError("erasure cannot be undone: add --yes to confirm")
        s.close()
        removed = clientdata.erase_client(db, db.store, actor, args.client)
        return f"client {args.client} erased ({removed} photo files removed)"
    if command == "gallery":
        written = gallery.export_gallery(s, db.store, actor, args.out, args.date)
        return f"{len(written)} before/after pairs exported to {printable(args.out)}"
    if command == "backup":
        access.require_admin(owner)
        manifest = backups.backup(db.folder, args.archive)
        return f"backed up {len(manifest['files'])} files to {printable(args.archive)}"
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
    lines = [f"client {client.id}: {printable(client.name)}", f"  born {client.date_of_birth or '-'}, "
             f"Fitzpatrick {client.fitzpatrick or '-'}, contact {printable(client.contact) or '-'}"]
    open_now = records.open_contraindications(client)
    lines.append("  contraindications: " + ("; ".join(open_now) if open_now else "none open"))
    for kind in CONSENT_KINDS:
        lines.append(f"  {kind} consent: {'current' if records.has_consent(client, kind) else 'none'}")
    for course in client.courses:
        lines.append(f"  course {course.id}: {printable(course.treatment)}, {printable(', '.join(course.areas))}, "
                     f"{len(course.sessions)}/{course.planned_sessions} sessions, {course.status}")
    return "\n".join(lines)


def _progress_table(course, rows) -> str:
    """Each photo's change since baseline, +- noise; a pair that is not comparable shows why, not a number."""
    width = 27
    head = f"course {course.id}: {printable(course.treatment)} ({printable(', '.join(course.areas))})"
    cols = "".join(f"{f'{m.label} ({m.unit})':>{width}}" for m in progress.SUMMARY)
    lines = [head, f"{'session':>7} {'date':>10} {'view':>9}  {'status':<15}{cols}"]
    notes = []
    for r in rows:
        if r.status == "baseline":
            cells = "".join(f"{'-' if r.values.get(m.name) is None else f'{r.values[m.name]:.2f}':>{width}}"
                            for m in progress.SUMMARY)
        else:
            shown = [r.change(m.name) for m in progress.SUMMARY]
            cells = "".join(f"{c.cell():>{width}}" for c in shown)
            if not r.comparable:
                notes.append(f"  session {r.session} {printable(r.view)}: "
                             f"{printable(progress.reason_text(r.reasons, plain=False))}")
            notes += [f"  session {r.session} {printable(r.view)}, {c.metric.word}: {c.verdict}: "
                      f"{printable(c.why(plain=False))}"
                      for c in shown if r.comparable and not c.shown]
        status = r.status if r.status != "compared" or r.comparable else "not comparable"
        lines.append(f"{r.session:>7} {r.held_on.isoformat():>10} {printable(r.view):>9}  {status:<15}{cells}")
    lines.append("baseline rows give values; later rows the change since baseline +- 95% noise; * beyond noise")
    return "\n".join(lines + notes)


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
        print(f"error: the command failed and saved nothing ({type(exc).__name__}: {printable(exc)})",
              file=sys.stderr)
        return 1
    return 0
