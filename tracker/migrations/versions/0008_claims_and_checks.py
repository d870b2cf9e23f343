"""a claim names its run; roles, course statuses, consent kinds and removal reasons checked by the schema

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 01:00:00

``photo_analyses.claimed_by`` (``host:pid``) lets a run on the same machine take over at once the photo a
killed run had claimed (SQLite; PostgreSQL's row locks already do). The CHECK constraints repeat, in the
schema, the enumerations the library checks, so a restored or hand-edited row outside them is refused by the
database too (issue 16). The values are this revision's, written out: a later one that adds a value changes
its constraint in its own migration.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

CHECKS = {  # table -> (constraint, column, allowed values, nullable)
    'users': ('ck_users_role', 'role', ('practitioner', 'admin'), False),
    'courses': ('ck_courses_status', 'status', ('planned', 'active', 'completed', 'stopped'), False),
    'consents': ('ck_consents_kind', 'kind', ('treatment', 'photography', 'marketing'), False),
    'photos': ('ck_photos_removed_reason', 'removed_reason',
               ('wrong_client', 'unusable', 'duplicate', 'withdrawn', 'other'), True),
}


def condition(column: str, values: tuple, nullable: bool) -> str:
    allowed = f"{column} IN ({', '.join(repr(v) for v in values)})"
    return f"{column} IS NULL OR {allowed}" if nullable else allowed


def _rebuild(table: str, change) -> None:
    """Apply ``change(batch_op)`` to ``table``; on SQLite by rebuilding it with AUTOINCREMENT and its sequence
    (as 0005 does: a rebuilt table's sequence would restart at its highest id)."""
    bind = op.get_bind()
    sqlite = bind.dialect.name == 'sqlite'
    seq = None
    if sqlite:
        seq = bind.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": table}).scalar()
    with op.batch_alter_table(table, recreate='always' if sqlite else 'auto',
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        change(batch_op)
    if seq is not None:
        bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :t"), {"t": table})
        highest = bind.execute(sa.text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar()
        bind.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :seq)"),
                     {"t": table, "seq": max(seq, highest)})


def upgrade() -> None:
    op.add_column('photo_analyses', sa.Column('claimed_by', sa.String(length=120), nullable=True))
    for table, (name, column, values, nullable) in CHECKS.items():
        _rebuild(table, lambda b, n=name, c=column, v=values, z=nullable:
                 b.create_check_constraint(n, condition(c, v, z)))


def downgrade() -> None:
    for table, (name, *_) in CHECKS.items():
        _rebuild(table, lambda b, n=name: b.drop_constraint(n, type_='check'))
    _rebuild('photo_analyses', lambda b: b.drop_column('claimed_by'))
