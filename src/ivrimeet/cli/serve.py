"""``ivrimeet serve``: the HTTP API (and, on the embedded default, an in-process worker)."""

from __future__ import annotations

import logging

import typer

from ivrimeet.cli.state import load_settings

__all__ = ["register"]

logger = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(
        None,
        metavar="HOST",
        help="Address to bind; default 0.0.0.0 with an API token, else 127.0.0.1.",
    ),
    port: int | None = typer.Option(None, metavar="PORT", help="Port; default $PORT, else 8000."),
    no_worker: bool = typer.Option(
        False,
        "--no-worker",
        help="Serve the API only; run 'ivrimeet worker' processes elsewhere (needs REDIS_URL "
        "to share the queue across machines).",
    ),
    worker_threads: int = typer.Option(
        1, min=1, max=16, metavar="N", help="Jobs the in-process worker processes at once."
    ),
) -> None:
    """Run the API server and, unless --no-worker, a worker in the same process.

    The in-process worker consumes whichever queue is configured (the SQLite
    queue, or Redis with REDIS_URL), so one `ivrimeet serve` is a complete
    service; scaled-out deployments run API-only replicas plus `ivrimeet worker`.
    """
    import uvicorn

    from ivrimeet.allocator import tune_for_streaming
    from ivrimeet.api import create_app, timed_h11
    from ivrimeet.worker import build_services

    settings = load_settings(ctx)
    if settings.ivrimeet_api_token is None:
        if host not in (None, "127.0.0.1", "localhost", "::1"):
            typer.echo(
                f"Refusing to bind {host} without IVRIMEET_API_TOKEN: anyone could use the API. "
                "Set IVRIMEET_API_TOKEN or bind 127.0.0.1.",
                err=True,
            )
            raise typer.Exit(2)
        host = "127.0.0.1"
        logger.warning("api.unauthenticated IVRIMEET_API_TOKEN unset: binding 127.0.0.1 only")
    bind_host = host or "0.0.0.0"  # noqa: S104  # token set: public bind is the point
    if no_worker:
        # Only an API-only process: the tuning slows inference in the same process
        # (allocator.py has the figures), and the embedded worker runs inference.
        tune_for_streaming()
    services = build_services(settings)
    worker = None
    if not no_worker:
        from ivrimeet.worker import EmbeddedWorker

        worker = EmbeddedWorker(settings, services, threads=worker_threads)
    uvicorn.run(
        create_app(settings, services=services, worker=worker),
        host=bind_host,
        port=port or settings.port,
        log_config=None,
        access_log=False,
        http=timed_h11(settings.http_header_timeout, settings.http_body_timeout),
    )
