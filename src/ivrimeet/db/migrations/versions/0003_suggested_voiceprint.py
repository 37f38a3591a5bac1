"""A speaker's suggested name points at the voiceprint it came from.

``speakers.suggested_name`` (a copied string) becomes
``speakers.suggested_voiceprint_id`` (``ON DELETE SET NULL``), so a suggestion
disappears with the voiceprint it was made from (its meeting deleted, its
speaker un-named) and follows a rename. Existing suggestions are kept when a
voiceprint with that name still exists (the oldest one).

SQLite: plain ``ALTER TABLE`` statements, never batch mode. Batch mode copies
and drops ``speakers``, and with foreign keys on that drop would cascade into
``segments`` and ``voiceprints``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COPY_SUGGESTIONS = """
UPDATE speakers SET suggested_voiceprint_id = (
    SELECT MIN(voiceprints.id) FROM voiceprints WHERE voiceprints.name = speakers.suggested_name
) WHERE suggested_name IS NOT NULL
"""

_COPY_NAMES_BACK = """
UPDATE speakers SET suggested_name = (
    SELECT voiceprints.name FROM voiceprints
    WHERE voiceprints.id = speakers.suggested_voiceprint_id
) WHERE suggested_voiceprint_id IS NOT NULL
"""


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if _sqlite():
        op.execute(
            "ALTER TABLE speakers ADD COLUMN suggested_voiceprint_id INTEGER"
            " REFERENCES voiceprints (id) ON DELETE SET NULL"
        )
    else:
        op.add_column("speakers", sa.Column("suggested_voiceprint_id", sa.Integer()))
        op.create_foreign_key(
            "fk_speakers_suggested_voiceprint_id",
            "speakers",
            "voiceprints",
            ["suggested_voiceprint_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index("ix_speakers_suggested_voiceprint_id", "speakers", ["suggested_voiceprint_id"])
    op.execute(_COPY_SUGGESTIONS)
    if _sqlite():
        op.execute("ALTER TABLE speakers DROP COLUMN suggested_name")
    else:
        op.drop_column("speakers", "suggested_name")


def downgrade() -> None:
    op.add_column("speakers", sa.Column("suggested_name", sa.String(200)))
    op.execute(_COPY_NAMES_BACK)
    op.drop_index("ix_speakers_suggested_voiceprint_id", "speakers")
    if _sqlite():
        op.execute("ALTER TABLE speakers DROP COLUMN suggested_voiceprint_id")
    else:
        op.drop_constraint("fk_speakers_suggested_voiceprint_id", "speakers", type_="foreignkey")
        op.drop_column("speakers", "suggested_voiceprint_id")
