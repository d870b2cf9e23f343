"""Alembic environment: migrations run on the engine the tracker hands over.

On SQLite, foreign keys are switched off while migrations run, as SQLite's
own procedure for changing a table asks [1]_: a migration that rebuilds a
parent table drops it, and with foreign keys on that drop would first delete
(by ``ON DELETE CASCADE``) every row that refers to it. The pragma only takes
effect outside a transaction, so it is set before the migration's transaction
begins, and every reference is checked before that transaction commits.

.. [1] https://www.sqlite.org/lang_altertable.html#otheralter
"""

from alembic import context
from sqlalchemy import text

from tracker.models import Base

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        with connection.begin():
            context.run_migrations()
            if sqlite:
                broken = connection.execute(text("PRAGMA foreign_key_check")).fetchall()
                if broken:
                    raise RuntimeError(f"the migration broke {len(broken)} references: {broken[:5]}")
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
