"""``tiktok-etl sandbox serve``: the simulated TikTok over HTTP, for trying the project by hand.

Only starts the server; what it simulates lives in :mod:`tiktok_etl.sandbox`.
"""

from __future__ import annotations

import sys

import click

from tiktok_etl.cli.errors import Group


@click.group(cls=Group)
def sandbox() -> None:
    """The simulated TikTok used by the demo, the tests and the benchmarks."""


@sandbox.command("serve")
@click.option("--port", default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--latency", default=0.0, show_default=True, help="Seconds added to each request.")
@click.option("--rate-limit", type=int, default=None, help="Enforced requests/min per endpoint.")
@click.option("--access-token-ttl", type=int, default=86400, show_default=True)
def sandbox_serve(
    port: int, host: str, seed: int, latency: float, rate_limit: int | None, access_token_ttl: int
) -> None:
    """Serve both API families over HTTP (Display at /v2, Business at /open_api/v1.3)."""
    from tiktok_etl.sandbox import FaultConfig, SandboxServer, build_sandbox

    app = build_sandbox(
        seed=seed,
        faults=FaultConfig(latency=latency, rate_limit_per_minute=rate_limit),
        access_token_ttl=access_token_ttl,
    )
    server = SandboxServer(app, host=host, port=port)
    click.echo(f"sandbox on http://{host}:{port}  (Business root: /open_api/v1.3)")
    click.echo(
        f"  TIKTOK_API_BASE_URL=http://{host}:{port} "
        f"TIKTOK_BUSINESS_API_BASE_URL=http://{host}:{port}/open_api/v1.3"
    )
    sys.stdout.flush()
    server.serve_forever()
