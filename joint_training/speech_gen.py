"""Emotional speech generator: CPED sentences spoken in their labelled emotion by our synthesizer.

No licensed emotional Mandarin speech corpus can be had here, so the speech side of the
bridge is trained on speech made by the project's own synthesizer
(:func:`tts.factory.build_synthesizer`, Kokoro with prosodic emotion rendering by default).
Each utterance is a CPED sentence rendered in its (mapped) emotion, with the voice,
emotion intensity and speaking rate drawn at random.

Held apart for evaluation: the ``test`` rows use voices never used for ``train``/``valid``
and texts from CPED's test split; ``train`` texts come from CPED's training series and
``valid`` texts from the development series. Finished wavs are kept, so an interrupted run
continues where it stopped. Audio is written at 16 kHz (the rate the features use).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tingshuo.core.audio import read_audio, write_wav
from tingshuo.core.emotions import EMOTIONS, Emotion
from tingshuo.core.paths import shared_dir
from tingshuo.joint_training.cped import DEFAULT_DEV_SERIES, cped_records
from tingshuo.joint_training.manifest import ManifestRecord, write_manifest
from tingshuo.tts.config import TTSConfig

log = logging.getLogger(__name__)
OUT_RATE = 16000  # Hz
_HANZI = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class GenerationPlan:
    """How much speech to make and how to vary it."""

    train_per_emotion: int = 25
    valid_per_emotion: int = 6
    eval_per_emotion: int = 10
    eval_voices: int = 1  # voices used only for the test rows
    max_train_voices: int = 4
    intensity_range: tuple[float, float] = (0.6, 1.6)
    rate_range: tuple[float, float] = (0.9, 1.1)
    min_chars: int = 4
    max_chars: int = 20
    seed: int = 0


def usable_text(text: str, plan: GenerationPlan) -> bool:
    """Mostly-hanzi sentences of a speakable length."""
    hanzi = len(_HANZI.findall(text))
    return plan.min_chars <= hanzi <= plan.max_chars and hanzi >= 0.8 * len(
        text.strip("，。！？…,.!? ")
    )


def split_voices(names: list[str], plan: GenerationPlan) -> tuple[list[str], list[str]]:
    """(training voices, evaluation-only voices), disjoint and deterministic."""
    ordered = sorted(names)
    if len(ordered) < 2:
        raise ValueError(f"need at least two voices to keep one for evaluation, got {ordered}")
    k = min(max(plan.eval_voices, 1), len(ordered) - 1)
    rng = np.random.default_rng(plan.seed)
    picked = list(rng.permutation(ordered))
    eval_voices = sorted(picked[:k])
    train_voices = sorted(picked[k : k + plan.max_train_voices])
    return train_voices, eval_voices


def plan_utterances(
    voices: list[str], plan: GenerationPlan, dev_series: tuple[str, ...] = DEFAULT_DEV_SERIES
) -> list[ManifestRecord]:
    """The utterances to synthesize (no audio yet: ``audio`` holds the target file name)."""
    train_voices, eval_voices = split_voices(voices, plan)
    rng = np.random.default_rng(plan.seed)
    pools: dict[tuple[str, Emotion], list[ManifestRecord]] = {}
    for r in cped_records(shared_dir(), dev_series):
        if usable_text(r.text, plan):
            pools.setdefault((r.split, r.emotion), []).append(r)
    wanted = {
        "train": plan.train_per_emotion,
        "valid": plan.valid_per_emotion,
        "test": plan.eval_per_emotion,
    }
    out: list[ManifestRecord] = []
    for split, n in wanted.items():
        split_voices_ = eval_voices if split == "test" else train_voices
        for emotion in EMOTIONS:
            pool = pools.get((split, emotion), [])
            if not pool or n == 0:
                continue
            for j, i in enumerate(rng.choice(len(pool), size=min(n, len(pool)), replace=False)):
                src = pool[int(i)]
                voice = str(rng.choice(split_voices_))
                intensity = (
                    1.0
                    if emotion == Emotion.NEUTRAL
                    else round(float(rng.uniform(*plan.intensity_range)), 3)
                )
                rate = round(float(rng.uniform(*plan.rate_range)), 3)
                digest = hashlib.sha1(
                    f"{src.text}|{voice}|{intensity:.3f}|{rate:.3f}|{emotion}".encode()
                ).hexdigest()[:8]
                uid = f"gen-{split}-{emotion.value}-{j:04d}-{digest}"
                out.append(
                    ManifestRecord(
                        id=uid,
                        audio=f"wav/{uid}.wav",
                        text=src.text,
                        emotion=emotion,
                        speaker=voice,
                        split=split,
                        intensity=intensity,
                        voice=voice,
                        rate=rate,
                        source=f"tts:{src.id}",
                    )
                )
    return out


def interleaved(
    records: list[ManifestRecord], done: set[str] | None = None
) -> list[ManifestRecord]:
    """Round-robin over (split, emotion) groups, groups with fewer finished files first, so a
    partial run still covers every split and class about evenly."""
    done = done or set()
    groups: dict[tuple[str, str], list[ManifestRecord]] = {}
    for r in records:
        groups.setdefault((r.split, r.emotion.value), []).append(r)
    ranked: list[tuple[int, int, ManifestRecord]] = []
    for g, members in enumerate(groups.values()):
        finished = sum(1 for r in members if r.id in done)
        pending = [r for r in members if r.id not in done]
        ranked.extend((finished + i, g, r) for i, r in enumerate(pending))
        ranked.extend((-1, g, r) for r in members if r.id in done)
    return [r for _, _, r in sorted(ranked, key=lambda t: (t[0], t[1]))]


def generate_speech(
    tts: TTSConfig,
    cache_dir: Path,
    out_dir: Path,
    plan: GenerationPlan | None = None,
    progress: bool = True,
    existing_only: bool = False,
    shard: tuple[int, int] = (0, 1),
) -> Path:
    """Synthesize the planned utterances into ``out_dir`` and write ``manifest.jsonl``.

    ``existing_only`` writes the manifest of the wavs already made, synthesizing nothing
    (to train on a partial run). ``shard=(k, n)`` synthesizes only every n-th planned
    utterance starting at k (several processes can share one output folder); each writes the
    manifest of all planned wavs that exist when it finishes.
    """
    from tingshuo.tts.base import Style
    from tingshuo.tts.factory import build_synthesizer

    plan = plan or GenerationPlan()
    tts_cfg = dataclasses.replace(tts, cache=dataclasses.replace(tts.cache, enabled=False))
    synth = build_synthesizer(tts_cfg, cache_dir)
    utterances = plan_utterances([v.name for v in synth.voices()], plan)
    (out_dir / "wav").mkdir(parents=True, exist_ok=True)
    done: list[ManifestRecord] = []
    finished = {r.id for r in utterances if (out_dir / str(r.audio)).is_file()}
    for rec in tqdm(
        interleaved(utterances, finished), desc="synthesizing", disable=not progress, unit="utt"
    ):
        path = out_dir / str(rec.audio)
        mine = utterances.index(rec) % shard[1] == shard[0]
        if (existing_only or not mine) and not path.is_file():
            continue
        if not path.is_file():
            style = Style(emotion=rec.emotion, intensity=rec.intensity, rate=rec.rate)
            audio = synth.synthesize(rec.text, style=style, voice=rec.voice)
            tmp = path.with_suffix(".tmp.wav")
            write_wav(tmp, audio.resample(OUT_RATE))
            tmp.replace(path)
        else:
            read_audio(path)  # a truncated file from a killed run fails here, loudly
        done.append(dataclasses.replace(rec, audio=str(path)))
    return write_manifest(out_dir / "manifest.jsonl", done)
