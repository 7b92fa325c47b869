"""``tingshuo serve``: run the engine with uvicorn, draining sessions on shutdown."""

from __future__ import annotations

import dataclasses
import logging

import click

from tingshuo.engine.cli import get_config
from tingshuo.engine.config import ConfigError, EngineConfig, load_config

log = logging.getLogger(__name__)


def build_server(config: EngineConfig, app=None, loop: str = "auto"):  # noqa: ANN001, ANN201
    """A uvicorn server whose shutdown first drains the engine (used by serve and tests).

    ``loop``: uvicorn's event loop choice (``auto`` takes uvloop when installed; tests that
    time the loop's callbacks ask for ``asyncio``)."""
    import uvicorn

    from tingshuo.engine.app import create_app

    app = app or create_app(config)

    class GracefulServer(uvicorn.Server):
        async def shutdown(self, sockets=None) -> None:  # noqa: ANN001
            for server in self.servers:  # stop accepting connections first
                server.close()
            await app.state.engine.drain()
            await super().shutdown(sockets=sockets)

    uv_config = uvicorn.Config(
        app,
        host=config.server.host,
        port=config.server.port,
        log_level=config.log_level.lower(),
        ws_max_size=config.security.max_ws_message_bytes + 1024,
        ws_ping_interval=20,
        timeout_graceful_shutdown=int(config.server.shutdown_timeout_s) + 5,
        lifespan="on",
        loop=loop,
        # the client address comes from security.trusted_proxies alone (engine/security/
        # origin.py); uvicorn's own X-Forwarded-For handling would trust any loopback peer
        proxy_headers=False,
    )
    return GracefulServer(uv_config)


@click.command()
@click.option("--host", default=None, help="Bind address (default from config: 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default from config: 8000).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML config file.",
)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, config_path: str | None) -> None:
    """Serve /v1/dialog, /v1/asr, the HTTP API and the WebUI."""
    try:
        config = load_config(config_path) if config_path else get_config(ctx)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    server_cfg = dataclasses.replace(
        config.server, host=host or config.server.host, port=port or config.server.port
    )
    config = dataclasses.replace(config, server=server_cfg)
    from tingshuo.engine.logs import configure
    from tingshuo.engine.security.auth import check_bind_policy
    from tingshuo.engine.security.errors import InsecureConfigError
    from tingshuo.engine.security.redact import install_redaction

    try:
        configure(config.log_level, config.log_format)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    try:  # auth may be off only on a loopback bind (logged); on with no keys is refused
        check_bind_policy(server_cfg.host, config.security.auth, config.security.api_key_hashes)
    except InsecureConfigError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(
        f"tingshuo: loading models, then serving on http://{server_cfg.host}:{server_cfg.port}/"
    )
    server = build_server(config)  # configures uvicorn's loggers; redact after that
    install_redaction([config.security.token_secret, config.redis_url])  # no keys/tokens in logs
    server.run()
