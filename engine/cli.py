"""The ``tingshuo`` command line.

Subcommands live beside the code they drive and are imported only when invoked, so
``tingshuo --help`` stays fast and no model code runs at import time.
"""

from __future__ import annotations

import importlib
import os

import click

from tingshuo.engine.config import ConfigError, EngineConfig, load_config
from tingshuo.engine.logs import configure as configure_logs

# command name -> "module:attribute" of a click command
COMMANDS: dict[str, str] = {
    "serve": "tingshuo.engine.serve_cli:serve",
    "worker": "tingshuo.engine.scaleout.worker_cli:worker",
    "transcribe": "tingshuo.engine.asr_cli:transcribe",
    "models": "tingshuo.engine.models_cli:models",
    "say": "tingshuo.engine.tts_cli:say",
    "voices": "tingshuo.engine.tts_cli:voices",
    "emotion": "tingshuo.engine.dialog_cli:emotion",
    "train": "tingshuo.engine.train_cli:train",
    "talk": "tingshuo.engine.talk_cli:talk",
    "converse": "tingshuo.engine.talk_cli:converse",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # not built yet in this checkout
                return None
            raise
        return getattr(module, attr, None)


@click.group(cls=LazyGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    envvar="TINGSHUO_CONFIG",
    help="TOML config file.",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config key, e.g. --set asr.backend=paraformer (repeatable).",
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def cli(
    ctx: click.Context, config_path: str | None, overrides: tuple[str, ...], verbose: bool
) -> None:
    """听说 tingshuo — Mandarin voice dialogue engine (ASR → emotion bridge → TTS)."""
    try:
        config = load_config(config_path, overrides=overrides)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        configure_logs("DEBUG" if verbose else config.log_level, config.log_format)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    ctx.obj = config


def get_config(ctx: click.Context) -> EngineConfig:
    """The resolved config of the running command."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, EngineConfig) else load_config()


def main() -> None:
    """Console-script entry point."""
    # libgomp's spinning idle workers make torch 3-4x slower on a busy 2-core machine
    # (measured in benchmarks/results/sambert.md); must be set before torch is imported.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    cli(prog_name="tingshuo")


if __name__ == "__main__":
    main()
