"""Train the emotion bridge: single process or ``torchrun`` (DDP, gloo on CPU).

    tingshuo train bridge --config joint_training/configs/bridge-default.toml
    torchrun --nproc_per_node 2 -m tingshuo.engine.train_cli bridge --config FILE

Each epoch: one pass over the CPED training text (sharded across processes), each step
also drawing a batch of speech+text pairs; then (rank 0) dev-split evaluation, temperature
calibration, ``checkpoint-last.pt`` (for ``--resume``) and, when the dev score improves,
the exported inference checkpoint ``model.pt`` with ``config.json``, ``metrics.json`` and
confusion-matrix PNGs.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from tingshuo.core.paths import default_cache_dir, shared_dir
from tingshuo.dialog.bridge_model import NUM_EMOTIONS, BridgeModel
from tingshuo.dialog.checkpoint import save_inference_checkpoint
from tingshuo.joint_training import evaluate as ev
from tingshuo.joint_training.config import BridgeTrainConfig, save_resolved
from tingshuo.joint_training.cped import cped_records
from tingshuo.joint_training.features import FeatureTable, cached_features, concat
from tingshuo.joint_training.manifest import ManifestRecord, read_manifest
from tingshuo.joint_training.text_init import logreg_warm_start

log = logging.getLogger(__name__)


def _rank_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def load_records(cfg: BridgeTrainConfig, base: Path | None = None) -> list[ManifestRecord]:
    """CPED (train/dev only) plus every configured manifest's train/valid rows."""
    return [r for group in load_record_groups(cfg, base) for r in group]


def load_record_groups(
    cfg: BridgeTrainConfig, base: Path | None = None
) -> list[list[ManifestRecord]]:
    """The records per source (CPED, then each manifest), each cached separately."""
    groups: list[list[ManifestRecord]] = []
    if cfg.cped:
        rows = [r for r in cped_records(shared_dir(), cfg.cped_dev_series) if r.split != "test"]
        if cfg.max_text_rows:  # quick runs: a random subset of each split
            rng = np.random.default_rng(cfg.seed)
            keep: set[str] = set()
            for split in ("train", "valid"):
                part = [r for r in rows if r.split == split]
                keep |= {part[i].id for i in rng.permutation(len(part))[: cfg.max_text_rows]}
            rows = [r for r in rows if r.id in keep]
        groups.append(rows)
    for m in cfg.manifests:
        path = Path(m).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        groups.append(read_manifest(path, splits=("train", "valid")))
    return groups


def _features(
    cfg: BridgeTrainConfig,
    groups: list[list[ManifestRecord]],
    cache_dir: Path | None,
    progress: bool,
) -> FeatureTable:
    cache = (
        Path(cfg.cache_dir).expanduser()
        if cfg.cache_dir
        else (cache_dir or default_cache_dir()) / "bridge-features"
    )
    rank, world = _rank_world()

    def load(workers: int, show: bool) -> FeatureTable:
        return concat(
            [
                cached_features(g, cfg.dims.ngram_buckets, cache, workers=workers, progress=show)
                for g in groups
                if g
            ]
        )

    if rank == 0:
        table = load(cfg.workers, progress)
    if world > 1:
        dist.barrier()
    if rank != 0:
        table = load(1, False)
    return table


def ngram_idf(ngrams: list[np.ndarray], buckets: int, min_df: int = 2) -> np.ndarray:
    """Smoothed inverse document frequency per n-gram bucket (as scikit-learn's TfidfVectorizer);
    0 for buckets seen in fewer than ``min_df`` training texts, which are thereby ignored."""
    df = np.zeros(buckets, dtype=np.float64)
    for ids in ngrams:
        df[np.unique(ids)] += 1
    idf = np.log((1 + len(ngrams)) / (1 + df)) + 1.0
    return np.where(df >= min_df, idf, 0.0).astype(np.float32)


def warmup_cosine(step: int, warm: int, total: int, floor: float = 0.05) -> float:
    """Linear warm-up then cosine decay to ``floor`` (a factor on the base learning rate);
    the total comes from the config, so a resumed run may extend the number of epochs."""
    if step < warm:
        return (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, total - warm))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def _class_weights(labels: np.ndarray) -> torch.Tensor:
    counts = np.bincount(labels, minlength=NUM_EMOTIONS).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / (NUM_EMOTIONS * np.maximum(counts, 1)), 0.0)
    return torch.tensor(np.clip(w, 0.0, 10.0), dtype=torch.float32)


def evaluate_epoch(model: BridgeModel, dev: FeatureTable, dev_texts: list[str]) -> dict[str, Any]:
    """Dev metrics of every modality; also fits the three temperatures into ``model``."""
    speech_dev = dev.subset(dev.has_audio)
    # text is judged on the text corpus's own dev rows when there are any: the texts of
    # generated speech may come from other series (see docs/emotion-data.md)
    text_dev = dev.subset(~dev.has_audio) if (~dev.has_audio).any() else dev
    t_text = ev.fit_temperature(
        ev.logits(model, text_dev, "text"), torch.from_numpy(text_dev.labels)
    )
    t_speech = 1.0
    if len(speech_dev):
        t_speech = ev.fit_temperature(
            ev.logits(model, speech_dev, "speech"), torch.from_numpy(speech_dev.labels)
        )
    model.temperature[:] = torch.tensor([t_text, t_speech, 1.0])
    if len(speech_dev):
        t_fused = ev.fit_temperature(
            ev.logits(model, speech_dev, "fused"), torch.from_numpy(speech_dev.labels)
        )
        model.temperature[2] = t_fused
    out: dict[str, Any] = {
        "temperature": [round(float(t), 4) for t in model.temperature],
        "text": ev.evaluate_modality(model, text_dev, "text", t_text),
        "speech": ev.evaluate_modality(model, dev, "speech", t_speech),
        "fused": ev.evaluate_modality(model, dev, "fused", float(model.temperature[2])),
    }
    speech_texts = [t for t, a in zip(dev_texts, dev.has_audio, strict=True) if a]
    out["retrieval"] = ev.retrieval_recall(model, speech_dev, speech_texts)
    out["score"] = out["text"]["macro_f1"] + out["speech"].get("macro_f1", 0.0)
    return out


def train_bridge(
    cfg: BridgeTrainConfig,
    cache_dir: Path | None = None,
    resume: bool = False,
    progress: bool = True,
    base_dir: Path | None = None,
) -> dict[str, Any]:
    """Train (or resume) and return the metrics of the exported (best) epoch."""
    ddp = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if ddp and not dist.is_initialized():
        dist.init_process_group("gloo")
    rank, world = _rank_world()
    torch.set_num_threads(max(1, cfg.threads // world) if ddp else cfg.threads)
    torch.manual_seed(cfg.seed)
    out_dir = Path(cfg.out_dir).expanduser()
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_resolved(cfg, out_dir / "config.json")

    groups = load_record_groups(cfg, base_dir)
    records = [r for g in groups for r in g]
    table = _features(cfg, groups, cache_dir, progress and rank == 0)
    texts = [r.text for r in records]
    train = table.subset(table.splits == "train")
    dev_mask = table.splits == "valid"
    dev = table.subset(dev_mask)
    dev_texts = [t for t, m in zip(texts, dev_mask, strict=True) if m]
    pairs = train.subset(train.has_audio & train.embed.any(axis=1))  # speech with its text
    if len(train) == 0 or len(dev) == 0:
        raise ValueError("the bridge needs both train and valid rows (check the manifests)")

    model = BridgeModel(cfg.dims)
    model.text.idf[:] = torch.from_numpy(ngram_idf(train.ngrams, cfg.dims.ngram_buckets))
    if len(pairs):
        model.speech.mean[:] = torch.from_numpy(pairs.prosody.mean(0))
        model.speech.std[:] = torch.from_numpy(pairs.prosody.std(0) + 1e-3)
    if cfg.text_init == "logreg" and not (resume and (out_dir / "checkpoint-last.pt").is_file()):
        acc = logreg_warm_start(model, train, cfg.text_init_c)
        log.info("text branch warm-started from logistic regression (train accuracy %.3f)", acc)
    elif cfg.text_init not in ("random", "logreg"):
        raise ValueError(f"text_init must be 'random' or 'logreg', got {cfg.text_init!r}")
    # the text branch and the prototypes it defines move slowly after a warm start; speech is
    # mapped into their space
    text_params = [*model.text.parameters(), model.prototypes, model.class_bias]
    text_ids = {id(p) for p in text_params}
    opt = torch.optim.AdamW(
        [
            {"params": text_params, "lr": cfg.lr * cfg.text_lr_scale},
            {"params": [p for p in model.parameters() if id(p) not in text_ids], "lr": cfg.lr},
        ],
        weight_decay=cfg.weight_decay,
    )
    steps_per_epoch = max(1, math.ceil(len(train) / (cfg.batch_size * world)))
    total, warm = cfg.epochs * steps_per_epoch, max(1, steps_per_epoch // 2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_cosine(s, warm, total))
    start_epoch, best, history = 0, -1.0, []
    best_metrics: dict[str, Any] = {}
    last = out_dir / "checkpoint-last.pt"
    if resume and last.is_file():
        state = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start_epoch, best, history = state["epoch"], state["best"], state["history"]
        best_metrics = state.get("best_metrics", {})
        log.info("resumed from %s at epoch %d", last, start_epoch)
    net: torch.nn.Module = model
    if ddp:  # without speech pairs the speech branch gets no gradient
        net = DistributedDataParallel(model, find_unused_parameters=len(pairs) < 2)
    weights = _class_weights(train.labels) if cfg.class_balance else None
    pair_rng = np.random.default_rng(cfg.seed * 1000 + rank)

    for epoch in range(start_epoch, cfg.epochs):
        net.train()
        order = np.random.default_rng(cfg.seed + epoch).permutation(len(train))
        shard = order[rank::world]
        bar = tqdm(
            range(steps_per_epoch),
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            disable=not (progress and rank == 0),
        )
        t0, sums = time.time(), {"loss": 0.0}
        for step in bar:
            idx = shard[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            if len(idx) == 0:
                idx = shard[: cfg.batch_size]
            pb = None
            if len(pairs) > 1:
                pb = ev.pair_batch(
                    pairs,
                    pair_rng.choice(
                        len(pairs), min(cfg.pair_batch_size, len(pairs)), replace=False
                    ),
                )
            losses = net(ev.text_batch(train, idx), pb, weights, cfg.contrastive_weight)
            opt.zero_grad()
            losses["loss"].backward()
            opt.step()
            sched.step()
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            bar.set_postfix(loss=f"{sums['loss'] / (step + 1):.3f}")
        train_losses = {k: v / steps_per_epoch for k, v in sums.items()}
        if rank == 0:
            metrics = evaluate_epoch(model, dev, dev_texts)
            row = {
                "epoch": epoch + 1,
                "train": train_losses,
                "seconds": round(time.time() - t0, 1),
                **metrics,
            }
            history.append(row)
            log.info(
                "epoch %d loss %.3f dev text F1 %.3f speech F1 %.3f fused F1 %.3f R@1 %.2f",
                epoch + 1,
                train_losses["loss"],
                metrics["text"]["macro_f1"],
                metrics["speech"].get("macro_f1", 0.0),
                metrics["fused"].get("macro_f1", 0.0),
                metrics["retrieval"]["recall@1"],
            )
            if metrics[cfg.select_metric] > best:
                best, best_metrics = metrics[cfg.select_metric], row
                save_inference_checkpoint(out_dir, model, cfg.to_dict(), row)
                ev.plot_confusion(
                    metrics["text"]["confusion"],
                    f"text, dev (epoch {epoch + 1})",
                    out_dir / "confusion_text.png",
                )
                if metrics["speech"].get("n"):
                    ev.plot_confusion(
                        metrics["speech"]["confusion"],
                        f"speech, dev (epoch {epoch + 1})",
                        out_dir / "confusion_speech.png",
                    )
            (out_dir / "history.json").write_text(json.dumps(history, indent=1) + "\n")
            tmp = last.with_suffix(".tmp")
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "epoch": epoch + 1,
                    "best": best,
                    "history": history,
                    "best_metrics": best_metrics,
                    "config": cfg.to_dict(),
                },
                tmp,
            )
            os.replace(tmp, last)
        if ddp:
            dist.barrier()
    if ddp:
        dist.destroy_process_group()
    return best_metrics
