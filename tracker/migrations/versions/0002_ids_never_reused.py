"""ids never reused, one analysis per photo and version, pending deletions of erased originals

SQLite reuses the highest rowid once its row is deleted, so the next client
took an erased client's id. Every table is rebuilt with ``AUTOINCREMENT``
and its sequence starts above the highest id ever used, including ids the
audit log remembers for rows erased before this migration. PostgreSQL
sequences never go back, so there only the constraint and the new table are
added.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 16:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

#: Each table, and the audit log's name for its rows.
TABLES = {'users': 'user', 'clients': 'client', 'audit_events': None, 'screenings': 'screening',
          'consents': 'consent', 'courses': 'course', 'sessions': 'session', 'photos': 'photo',
          'product_uses': None, 'photo_analyses': None}
UNIQUE_ANALYSIS = 'uq_photo_analyses_photo_version'


def upgrade() -> None:
    op.create_table('pending_deletions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True,
    )
    # Two concurrent runs could analyse a photo twice: keep the newest before requiring one.
    op.execute("DELETE FROM photo_analyses WHERE id NOT IN "
               "(SELECT max(id) FROM photo_analyses GROUP BY photo_id, analysis_version)")
    sqlite = op.get_bind().dialect.name == 'sqlite'
    with op.batch_alter_table('photo_analyses', recreate='always' if sqlite else 'auto',
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.create_unique_constraint(UNIQUE_ANALYSIS, ['photo_id', 'analysis_version'])
    if not sqlite:
        return
    for table in TABLES:
        if table != 'photo_analyses':
            with op.batch_alter_table(table, recreate='always', table_kwargs={'sqlite_autoincrement': True}):
                pass
    bind = op.get_bind()
    for table, entity in TABLES.items():
        highest = bind.execute(sa.text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar()
        if entity:
            remembered = bind.execute(sa.text("SELECT coalesce(max(entity_id), 0) FROM audit_events "
                                              "WHERE entity = :entity"), {"entity": entity}).scalar()
            highest = max(highest, remembered)
        bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :t"), {"t": table})
        bind.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :seq)"),
                     {"t": table, "seq": highest})


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    with op.batch_alter_table('photo_analyses', recreate='always' if sqlite else 'auto') as batch_op:
        batch_op.drop_constraint(UNIQUE_ANALYSIS, type_='unique')
    if sqlite:
        for table in TABLES:
            if table != 'photo_analyses':
                with op.batch_alter_table(table, recreate='always'):
                    pass
    op.drop_table('pending_deletions')
