"""Meetings, speakers, segments, voiceprints and processing runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meetings",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("title", sa.String(500)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("audio_key", sa.String(1024), nullable=False),
        sa.Column("audio_bytes", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(255)),
        sa.Column("duration_seconds", sa.Float()),
        sa.Column("rttm_key", sa.String(1024)),
        sa.Column("json_key", sa.String(1024)),
        sa.Column("current_run_id", sa.Integer()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_meetings_created_at", "meetings", ["created_at"])
    op.create_table(
        "speakers",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "meeting_id",
            sa.String(32),
            sa.ForeignKey("meetings.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("suggested_name", sa.String(200)),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("snippet_key", sa.String(1024)),
        sa.Column("embedding", sa.LargeBinary()),
    )
    op.create_index("ix_speakers_meeting_id", "speakers", ["meeting_id"])
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "meeting_id",
            sa.String(32),
            sa.ForeignKey("meetings.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "speaker_id",
            sa.String(32),
            sa.ForeignKey("speakers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
    )
    op.create_index("ix_segments_meeting_id", "segments", ["meeting_id"])
    op.create_table(
        "voiceprints",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column(
            "meeting_id",
            sa.String(32),
            sa.ForeignKey("meetings.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "speaker_id",
            sa.String(32),
            sa.ForeignKey("speakers.id", ondelete="SET NULL"),
            unique=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_voiceprints_meeting_id", "voiceprints", ["meeting_id"])
    op.create_table(
        "processing_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "meeting_id",
            sa.String(32),
            sa.ForeignKey("meetings.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("worker", sa.String(255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(16)),
        sa.Column("error", sa.Text()),
    )
    op.create_index("ix_processing_runs_meeting_id", "processing_runs", ["meeting_id"])


def downgrade() -> None:
    op.drop_table("processing_runs")
    op.drop_table("voiceprints")
    op.drop_table("segments")
    op.drop_table("speakers")
    op.drop_table("meetings")
