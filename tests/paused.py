"""Run one tracker operation in its own process, paused at a chosen point, for crash and race tests.

    python tests/paused.py MARKERS DATA import SESSION_ID VIEW POINT FILE...
    python tests/paused.py MARKERS DATA backup ARCHIVE

At POINT the process creates ``MARKERS/POINT`` and waits (at most a minute)
for ``MARKERS/go``; the test then kills it, or races another process against
it and lets it go on. Points of an import: ``enter`` (signals on entering
``import_photos``, does not wait), ``first_original`` (after the first
original is stored), ``mid_write`` (a file written but not yet renamed into
place), ``commit`` (everything stored, before the commit). A backup pauses at
``archive`` (the snapshot taken, the archive begun).
"""

from __future__ import annotations

import os
import pathlib
import sys
import time


def pause(markers: pathlib.Path, point: str, wait: bool = True) -> None:
    (markers / point).touch()
    deadline = time.monotonic() + 60
    while wait and not (markers / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def main() -> int:
    markers, data, operation, *rest = sys.argv[1:]
    markers = pathlib.Path(markers)
    from tracker import access, backup, photos
    from tracker.db import open_data_folder

    db = open_data_folder(data)
    if operation == "backup":
        real_add = backup._add

        def paused_add(*args):
            pause(markers, "archive")
            return real_add(*args)

        backup._add = paused_add
        backup.backup(db.folder, pathlib.Path(rest[0]), actor=access.owner("dr.paused"))
        return 0
    session_id, view, point, *files = rest
    items = [photos.Incoming(pathlib.Path(f).name, pathlib.Path(f).read_bytes(), view) for f in files]
    if point == "first_original":
        store_class = type(db.store)
        real_put = store_class.put

        def put(self, data):
            digest = real_put(self, data)
            pause(markers, point)
            return digest

        store_class.put = put
    elif point == "mid_write":
        real_replace = os.replace

        def replace(src, dst):
            pause(markers, point)
            return real_replace(src, dst)

        os.replace = replace
    real_import = photos.import_photos

    def import_photos(*args):
        if point == "enter":
            pause(markers, point, wait=False)
        return real_import(*args)

    with db.session() as s:
        import_photos(s, db.store, access.owner("dr.paused"), int(session_id), items)
        if point == "commit":
            pause(markers, point)
        s.commit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
