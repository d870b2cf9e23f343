"""corrections and history: record versions, chosen baselines, removed photos, stale analyses

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-21 16:20:00

Self-contained on top of 0001 (the lead re-chains 0002/0003 before it at merge).
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('record_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('previous', sa.JSON(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True,  # ids are never reused (0002)
    )
    with op.batch_alter_table('record_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_versions_client_id'), ['client_id'], unique=False)

    op.create_table('view_baselines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('view', sa.String(length=100), nullable=False),
    sa.Column('photo_id', sa.Integer(), nullable=False),
    sa.Column('chosen_by', sa.String(length=200), nullable=False),
    sa.Column('chosen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['photo_id'], ['photos.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('course_id', 'view'),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('view_baselines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_view_baselines_course_id'), ['course_id'], unique=False)

    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('removed_by', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('removed_reason', sa.String(length=20), nullable=True))
    with op.batch_alter_table('photo_analyses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stale', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('photo_analyses', schema=None) as batch_op:
        batch_op.drop_column('stale')
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.drop_column('removed_reason')
        batch_op.drop_column('removed_by')
        batch_op.drop_column('removed_at')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('recorded_at')
    with op.batch_alter_table('view_baselines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_view_baselines_course_id'))
    op.drop_table('view_baselines')
    with op.batch_alter_table('record_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_record_versions_client_id'))
    op.drop_table('record_versions')
