"""``tingshuo train bridge``: train the emotion bridge on the shared real speech and text.

    tingshuo train bridge --config joint_training/configs/bridge-default.toml --out DIR

Reads ``../shared/eval`` (``TINGSHUO_SHARED_DIR`` overrides), caches speech features and
text embeddings under the cache dir, and writes only into ``--out`` (default
``runs/bridge``): the checkpoint, ``metrics.json``, ``config.json``, the C-sweep curve,
confusion and reliability PNGs and the model card.
"""

from __future__ import annotations

import json
import logging

import click

from tingshuo.engine.config import EngineConfig, cache_root
from tingshuo.joint_training.config import TrainConfigError, load_train_config


def _engine_config(ctx: click.Context) -> EngineConfig:
    from tingshuo.engine.cli import get_config

    return get_config(ctx)


@click.group()
def train() -> None:
    """Train models (the emotion bridge)."""


@train.command("bridge")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Training config (TOML); see joint_training/configs/bridge-default.toml.",
)
@click.option("--out", "out_dir", default=None, help="Output folder (overrides out_dir).")
@click.option(
    "--text-model",
    default=None,
    type=click.Path(file_okay=False),
    help="Reuse a trained text model folder instead of training one.",
)
@click.pass_context
def bridge(
    ctx: click.Context, config_path: str | None, out_dir: str | None, text_model: str | None
) -> None:
    """Train the emotion bridge (CASIA + EMO-DB speech, SMP2020 + CPED text)."""
    from tingshuo.asr.factory import build_recognizer
    from tingshuo.asr.whisper_backend import WhisperRecognizer
    from tingshuo.core.paths import shared_dir
    from tingshuo.dialog.text_features import SentenceEncoder
    from tingshuo.joint_training.speech_corpora import CorpusNotFoundError, EncodeFn
    from tingshuo.joint_training.train_bridge import train_bridge

    overrides: dict[str, object] = {}
    if out_dir:
        overrides["out_dir"] = out_dir
    if text_model:
        overrides["text_model"] = text_model
    try:
        cfg = load_train_config(config_path, overrides)
    except TrainConfigError as exc:
        raise click.UsageError(str(exc)) from None
    config = _engine_config(ctx)
    cache = cache_root(config)

    def encoder() -> EncodeFn:
        rec = build_recognizer(config.asr, cache, "whisper")
        assert isinstance(rec, WhisperRecognizer)
        return rec.encoder_states

    try:
        metrics = train_bridge(
            cfg,
            cache,
            shared_dir(),
            encoder,
            text_encoder=SentenceEncoder(threads=cfg.threads).encode,
            say=lambda line: click.echo(line, err=True),
        )
    except CorpusNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    summary = {
        "out_dir": cfg.out_dir,
        "casia_loso_macro_f1": metrics["speech"]["casia_loso_macro_f1"],
        "cross_corpus_macro_f1": metrics["cross_corpus"].get("macro_f1"),
        "min_confidence": metrics["min_confidence"],
    }
    click.echo(json.dumps(summary, ensure_ascii=False))


def main() -> None:
    """``python -m tingshuo.engine.train_cli``."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    train(prog_name="python -m tingshuo.engine.train_cli")


if __name__ == "__main__":
    main()
