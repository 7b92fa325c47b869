"""``tingshuo train``: training commands (the emotion bridge; emotional speech generation).

Also runnable as a module so that ``torchrun`` can start it on several processes:

    torchrun --nproc_per_node 2 -m joint_training.cli bridge --config FILE
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from tingshuo.engine.config import EngineConfig, cache_root
from tingshuo.joint_training.config import TrainConfigError, load_train_config


def _engine_config(ctx: click.Context) -> EngineConfig:
    from tingshuo.engine.cli import get_config

    return get_config(ctx)


def _cache_dir(ctx: click.Context) -> Path:
    return cache_root(_engine_config(ctx))


@click.group()
def train() -> None:
    """Train models (the emotion bridge) and make training data."""


@train.command("bridge")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Training config (TOML); see joint_training/configs/bridge-default.toml.",
)
@click.option("--out", "out_dir", default=None, help="Output folder (overrides out_dir).")
@click.option("--epochs", type=int, default=None, help="Override the number of epochs.")
@click.option("--resume", is_flag=True, help="Continue from <out>/checkpoint-last.pt.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.pass_context
def bridge(
    ctx: click.Context,
    config_path: str | None,
    out_dir: str | None,
    epochs: int | None,
    resume: bool,
    no_progress: bool,
) -> None:
    """Train the emotion bridge (CPED text + speech manifests); multi-process under torchrun."""
    from tingshuo.joint_training.train_bridge import train_bridge

    overrides: dict[str, object] = {}
    if out_dir:
        overrides["out_dir"] = out_dir
    if epochs is not None:
        overrides["epochs"] = epochs
    try:
        cfg = load_train_config(config_path, overrides)
    except TrainConfigError as exc:
        raise click.UsageError(str(exc)) from None
    base = Path(config_path).resolve().parent if config_path else Path.cwd()
    metrics = train_bridge(
        cfg, _cache_dir(ctx), resume=resume, progress=not no_progress, base_dir=base
    )
    if metrics:
        summary = {
            "epoch": metrics["epoch"],
            "text_macro_f1": round(metrics["text"]["macro_f1"], 4),
            "speech_macro_f1": round(metrics["speech"].get("macro_f1", 0.0), 4),
            "fused_macro_f1": round(metrics["fused"].get("macro_f1", 0.0), 4),
            **{k: round(v, 4) for k, v in metrics["retrieval"].items()},
        }
        click.echo(json.dumps({"out_dir": cfg.out_dir, "best": summary}, ensure_ascii=False))


@train.command("gen-speech")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for the wavs and manifest.jsonl.",
)
@click.option("--train-per-emotion", type=int, default=25, show_default=True)
@click.option("--valid-per-emotion", type=int, default=6, show_default=True)
@click.option("--eval-per-emotion", type=int, default=10, show_default=True)
@click.option(
    "--eval-voices",
    type=int,
    default=1,
    show_default=True,
    help="How many voices are kept for evaluation only.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--existing-only", is_flag=True, help="Only write the manifest of wavs already made.")
@click.option(
    "--shard",
    default="0/1",
    show_default=True,
    help="K/N: make every N-th utterance from K (parallel runs).",
)
@click.pass_context
def gen_speech(
    ctx: click.Context,
    out_dir: str,
    train_per_emotion: int,
    valid_per_emotion: int,
    eval_per_emotion: int,
    eval_voices: int,
    seed: int,
    existing_only: bool,
    shard: str,
) -> None:
    """Synthesize emotional speech with the project's synthesizer into a manifest."""
    from tingshuo.joint_training.speech_gen import GenerationPlan, generate_speech

    plan = GenerationPlan(
        train_per_emotion=train_per_emotion,
        valid_per_emotion=valid_per_emotion,
        eval_per_emotion=eval_per_emotion,
        eval_voices=eval_voices,
        seed=seed,
    )
    try:
        k, n = (int(x) for x in shard.split("/"))
        if not 0 <= k < n:
            raise ValueError
    except ValueError:
        raise click.BadParameter(
            f"expected K/N with 0 <= K < N, got {shard!r}", param_hint="--shard"
        ) from None
    path = generate_speech(
        _engine_config(ctx).tts,
        _cache_dir(ctx),
        Path(out_dir),
        plan,
        existing_only=existing_only,
        shard=(k, n),
    )
    click.echo(str(path))


def main() -> None:
    """``python -m joint_training.cli`` (used by torchrun)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    train(prog_name="python -m joint_training.cli")


if __name__ == "__main__":
    main()
