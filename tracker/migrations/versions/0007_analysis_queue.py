"""analysis workers and several app instances: setup tokens shared by every instance

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 19:00:00

Workers need no queue table: a photo is queued while it has no current analysis, and on PostgreSQL a
worker locks the photo's own row (see tracker.photos).
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('setup_tokens',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256')
    )


def downgrade() -> None:
    op.drop_table('setup_tokens')
