"""``ivrimeet iam-policy BUCKET``: print the least-privilege IAM policy for the bucket."""

from __future__ import annotations

import typer

from ivrimeet.objects import policy_json

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("iam-policy")(iam_policy)


def iam_policy(
    bucket: str = typer.Argument(
        ..., metavar="BUCKET", help="The bucket ivrimeet will use (S3_BUCKET)."
    ),
) -> None:
    """Print the IAM policy JSON that grants ivrimeet exactly what it needs on BUCKET."""
    typer.echo(policy_json(bucket))
