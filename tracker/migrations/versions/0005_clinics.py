"""clinics within a group: clinics, staff memberships, each client's clinic, the audit log's clinic

Every existing client, and every staff account, joins one default clinic,
"Main clinic", so a single clinic needs no setup. Every audit event about a
record (all but sign-ins and staff accounts) happened in that clinic.

``clients.clinic_id`` is NOT NULL with a foreign key: SQLite cannot add such
a column in place, so the table is rebuilt (batch mode), keeping its
``AUTOINCREMENT`` (0002) and its sequence, which may stand above the highest
id left (an erased client's id is never reused).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 19:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

DEFAULT_CLINIC = 'Main clinic'


def _rebuild(table: str, change) -> None:
    """Apply ``change(batch_op)`` to ``table``; on SQLite by rebuilding it with AUTOINCREMENT and its sequence."""
    bind = op.get_bind()
    sqlite = bind.dialect.name == 'sqlite'
    seq = None
    if sqlite:
        seq = bind.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": table}).scalar()
    with op.batch_alter_table(table, recreate='always' if sqlite else 'auto',
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        change(batch_op)
    if seq is not None:  # the rebuilt table's sequence restarts at its highest id: put back the highest ever used
        bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :t"), {"t": table})
        highest = bind.execute(sa.text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar()
        bind.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :seq)"),
                     {"t": table, "seq": max(seq, highest)})


def upgrade() -> None:
    op.create_table('clinics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    sqlite_autoincrement=True,  # ids are never reused (0002)
    )
    op.create_table('clinic_staff',
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('clinic_id', 'user_id'),
    )
    op.create_index(op.f('ix_clinic_staff_user_id'), 'clinic_staff', ['user_id'], unique=False)

    bind = op.get_bind()
    clinics = sa.table('clinics', sa.column('id', sa.Integer()), sa.column('name', sa.String()),
                       sa.column('created_at', sa.DateTime(timezone=True)))
    bind.execute(clinics.insert().values(name=DEFAULT_CLINIC, created_at=sa.func.now()))
    default = bind.execute(sa.select(clinics.c.id).where(clinics.c.name == DEFAULT_CLINIC)).scalar_one()
    bind.execute(sa.text("INSERT INTO clinic_staff (clinic_id, user_id) SELECT :clinic, id FROM users"),
                 {"clinic": default})

    # Nullable first, filled, then NOT NULL with its key: one portable path for SQLite and PostgreSQL.
    op.add_column('clients', sa.Column('clinic_id', sa.Integer(), nullable=True))
    bind.execute(sa.text("UPDATE clients SET clinic_id = :clinic"), {"clinic": default})

    def require_clinic(batch_op):
        batch_op.alter_column('clinic_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f('ix_clients_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_foreign_key('fk_clients_clinic_id_clinics', 'clinics', ['clinic_id'], ['id'])

    _rebuild('clients', require_clinic)

    # Plain ADD COLUMN (no rebuild): see 0004.
    op.add_column('audit_events', sa.Column('clinic_id', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_audit_events_clinic_id'), 'audit_events', ['clinic_id'], unique=False)
    bind.execute(sa.text("UPDATE audit_events SET clinic_id = :clinic WHERE entity <> 'user'"), {"clinic": default})


def downgrade() -> None:
    op.drop_index(op.f('ix_audit_events_clinic_id'), table_name='audit_events')
    _rebuild('audit_events', lambda batch_op: batch_op.drop_column('clinic_id'))

    def drop_clinic(batch_op):
        batch_op.drop_constraint('fk_clients_clinic_id_clinics', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_clients_clinic_id'))
        batch_op.drop_column('clinic_id')

    _rebuild('clients', drop_clinic)
    op.drop_index(op.f('ix_clinic_staff_user_id'), table_name='clinic_staff')
    op.drop_table('clinic_staff')
    op.drop_table('clinics')
