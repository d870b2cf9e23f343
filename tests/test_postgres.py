"""The records layer on a real PostgreSQL server, for clinic groups (started by the ``postgres_server`` fixture)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tracker import clientdata, gallery, photos, progress, records
from tracker.db import init_data_folder
from tracker_helpers import ACTOR, client_with_course, injected



def test_a_course_on_postgresql(tmp_path, postgres_server):
    db = init_data_folder(tmp_path / "data", postgres_server.new_database())
    assert db.engine.dialect.name == "postgresql"
    ids = client_with_course(db, sessions=3)
    with db.session() as s:
        photos.analyse_pending(s, db.store, ACTOR)
        rows = progress.course_progress(s, ACTOR, records.get_course(s, ACTOR, ids["course"]))
        assert [r.status for r in rows] == ["baseline", "compared", "compared"]
        assert rows[-1].change("redness_a_star").change == pytest.approx(injected(3), abs=0.2)
        assert [(o.courses, o.sessions) for o in records.client_overview(s, ACTOR)] == [(1, 3)]
        assert len(gallery.eligible_pairs(s, ACTOR)) == 1
        # Corrections with history, a chosen baseline and a batch recall on PostgreSQL too.
        records.update_client(s, ACTOR, ids["client"], "spelling", name="Ada Corrected")
        assert photos.choose_baseline(s, ACTOR, ids["photos"][1], "overexposed") == 3
        photos.remove_photo(s, db.store, ACTOR, ids["photos"][2], "unusable")
        s.commit()
        assert [h.session_id for h in records.batch_recall(s, ACTOR, " b2 ")] == [ids["sessions"][1]]
        assert len(records.history(s, ACTOR, ids["client"])) == 3
    assert clientdata.erase_client(db, db.store, ACTOR, ids["client"]) == 3
    with db.session() as s:
        assert records.client_overview(s, ACTOR) == []
        assert s.scalar(text("SELECT count(*) FROM record_versions")) == 0
    db.close()
