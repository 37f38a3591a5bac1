"""What ``setup_bucket`` reports: one ``StepResult`` per step, and the user it created."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "CreatedUser",
    "SetupReport",
    "StepResult",
    "StepStatus",
    "Unsupported",
    "record",
    "skipped",
]

logger = logging.getLogger(__name__)


class StepStatus(StrEnum):
    """What one set-up step did."""

    APPLIED = "applied"
    ALREADY = "already"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class StepResult:
    """One line of the set-up report."""

    step: str
    status: StepStatus
    detail: str


@dataclass(frozen=True)
class CreatedUser:
    """A freshly created IAM user and its only key. Show the secret once, then forget it."""

    name: str
    policy_name: str
    access_key_id: str
    secret_access_key: str = field(repr=False)


@dataclass(frozen=True)
class SetupReport:
    """Every step's outcome, and the user created in this run (if any)."""

    bucket: str
    steps: tuple[StepResult, ...]
    created_user: CreatedUser | None = None


class Unsupported(Exception):
    """The server does not implement a request; carries the reason for the report."""


def record(step: str, status: StepStatus, detail: str, bucket: str) -> StepResult:
    logger.info("bucket_setup.step bucket=%s step=%s status=%s", bucket, step, status.value)
    return StepResult(step, status, detail)


def skipped(step: str, bucket: str, why: str, consequence: str) -> StepResult:
    logger.warning("bucket_setup.skipped bucket=%s step=%s reason=%r", bucket, step, why)
    return StepResult(step, StepStatus.SKIPPED, f"{why}; {consequence}")
