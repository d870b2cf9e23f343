"""body-area scores: the Hexsel cellulite score per session, the course's scale marker size

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 19:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hexsel_scores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('depressions_number', sa.Integer(), nullable=False),
    sa.Column('depressions_depth', sa.Integer(), nullable=False),
    sa.Column('morphology', sa.Integer(), nullable=False),
    sa.Column('laxity', sa.Integer(), nullable=False),
    sa.Column('nurnberger_muller', sa.Integer(), nullable=False),
    sa.Column('scored_by', sa.String(length=200), nullable=False),
    sa.Column('scored_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('session_id'),
    sqlite_autoincrement=True,  # ids are never reused (0002)
    )
    # Plain ALTER TABLE ADD COLUMN: a batch (copy-and-move) on SQLite would drop the AUTOINCREMENT of 0002.
    op.add_column('courses', sa.Column('marker_mm', sa.Float(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE DROP COLUMN (SQLite 3.35+), for the same reason.
    op.drop_column('courses', 'marker_mm')
    op.drop_table('hexsel_scores')
