"""A meeting being processed shows its current step and a percentage.

The worker writes them as the job moves (``ivrimeet.processing.progress``);
the API returns them as ``progress`` while the meeting is ``processing``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("meetings", sa.Column("progress_step", sa.String(16)))
    op.add_column("meetings", sa.Column("progress_percent", sa.Integer()))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE meetings DROP COLUMN progress_percent")
        op.execute("ALTER TABLE meetings DROP COLUMN progress_step")
    else:
        op.drop_column("meetings", "progress_percent")
        op.drop_column("meetings", "progress_step")
