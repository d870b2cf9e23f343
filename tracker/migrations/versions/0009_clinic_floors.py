"""each clinic's own noise floors

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 01:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('clinic_floors',
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('floors', sa.JSON(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('set_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('clinic_id'),
    )


def downgrade() -> None:
    op.drop_table('clinic_floors')
