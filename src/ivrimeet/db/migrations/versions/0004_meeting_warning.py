"""A meeting can carry a warning about its recording (cut short, damaged frames).

The job processes what decodes and tells the user what was missing; the
warning is shown by the API (``warning``) and the web page.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("meetings", sa.Column("warning", sa.Text()))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE meetings DROP COLUMN warning")
    else:
        op.drop_column("meetings", "warning")
