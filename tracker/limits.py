"""Every bound the tracker puts on what people send it: one registry.

Free text is bounded in characters, so that a name of 200,000 characters
can neither slow every report down nor fill the database: a column's own
length (``String(200)``) is its bound, and :data:`TEXT_CHARS` bounds the
columns without one (``Text``: notes, reasons). :func:`check_lengths`
checks every record a session is about to write, whatever wrote it, and
refuses longer text with a RecordError naming the field; nothing is written.

Password hashing is bounded per process: each scrypt needs 128 MiB (see
:mod:`tracker.access`), so at most :data:`CONCURRENT_HASHES` run at once,
and an attempt waits :data:`HASH_WAIT_S` seconds at most for its turn
before it is refused.

A backup being restored is untrusted, and JSON costs up to 25 times its
bytes once parsed (``{},{},...``): its ``manifest.json`` is read up to
:data:`MANIFEST_BYTES` and parsed only if it is shaped like a manifest (a
few containers of long strings), its ``records.jsonl`` one line at a time,
each line (one row) at most :data:`RECORD_LINE_BYTES`. A backup refuses to
write a larger manifest, or a larger row of a server's dump; a SQLite
snapshot's rows are not measured when it is taken (free text is bounded far
below the line's limit, see :data:`TEXT_CHARS`).
"""

from __future__ import annotations

from sqlalchemy import String, inspect

from .errors import RecordError

#: The longest text a column without a length of its own (``Text``: notes, reasons) keeps, in characters.
TEXT_CHARS = 10_000
#: Scrypt hashes (sign-ins, new passwords and codes) running at once in one process: 4 x 128 MiB.
CONCURRENT_HASHES = 4
#: How long an attempt waits for a free hash before it is refused, in seconds.
HASH_WAIT_S = 20.0
#: The largest ``manifest.json`` of a backup, in bytes: about 600,000 photos in one full backup.
MANIFEST_BYTES = 128 * 2**20
#: The longest line (one row) of a backup's ``records.jsonl``, in bytes; the longest a tracker writes is a
#: session's three free texts at :data:`TEXT_CHARS` characters each, about 360 KB JSON-escaped.
RECORD_LINE_BYTES = 4 * 2**20
#: The most lists and objects one line of ``records.jsonl`` may hold: parsed, each costs about 60 bytes (a line
#: of ``[],[],...`` would cost 25 times its bytes); an analysis result holds about a thousand.
RECORD_CONTAINERS = 50_000


def text_bound(column) -> int | None:
    """The most characters ``column`` keeps: its own length, else :data:`TEXT_CHARS` for text; None for others."""
    if not isinstance(column.type, String):  # Text is a String without a length
        return None
    return column.type.length or TEXT_CHARS


def check_lengths(session, _flush_context, _instances) -> None:
    """``before_flush``: refuse text longer than its bound in any record about to be written."""
    for record in (*session.new, *session.dirty):
        state = inspect(record)
        for attribute in state.mapper.column_attrs:
            value = state.dict.get(attribute.key)  # what is set or loaded; never a load during a flush
            bound = text_bound(attribute.columns[0])
            if isinstance(value, str) and bound is not None and len(value) > bound:
                what = f"{state.mapper.class_.__name__.lower()} {attribute.key.replace('_', ' ')}"
                raise RecordError(f"the {what} is {len(value):,} characters long: at most {bound:,} are allowed")
