"""CPED (Chinese Personalized and Emotional Dialogue) text emotion, mapped to the canonical seven.

CPED labels each utterance of 40 TV series with one of 13 emotions. The mapping below
(rationale in docs/emotion-data.md) keeps 11 of them; ``positive-other`` and
``negative-other`` name no particular emotion and are dropped.

Splits: the CSV ``valid_split.csv`` (5 series) is our training data, with whole series held
out as the development split (early stopping, temperature calibration); ``test_split.csv``
(9 other series) is used only for evaluation — never for training.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from tingshuo.core.emotions import Emotion
from tingshuo.joint_training.manifest import ManifestError, ManifestRecord

CPED_TO_CANONICAL: dict[str, Emotion] = {
    "neutral": Emotion.NEUTRAL,
    "happy": Emotion.HAPPY,
    "relaxed": Emotion.HAPPY,  # positive valence, low arousal: closest canonical is happy
    "grateful": Emotion.HAPPY,
    "anger": Emotion.ANGRY,
    "depress": Emotion.SAD,
    "sadness": Emotion.SAD,
    "worried": Emotion.FEAR,  # anxiety belongs to the fear family
    "fear": Emotion.FEAR,
    "astonished": Emotion.SURPRISE,
    "disgust": Emotion.HATE,
}
CPED_DROPPED: tuple[str, ...] = ("positive-other", "negative-other")
# Series of valid_split.csv held out as our development split (one of its five series).
DEFAULT_DEV_SERIES: tuple[str, ...] = ("45",)


def cped_dir(shared: Path) -> Path:
    """Where the CPED CSVs live inside ../shared."""
    return shared / "eval" / "emotion-text"


def read_cped(
    csv_path: str | Path, split: str, dev_series: Iterable[str] = ()
) -> tuple[list[ManifestRecord], Counter[str]]:
    """Rows of one CPED CSV as text-only manifest records, plus a count of dropped labels.

    Rows whose ``TV_ID`` is in ``dev_series`` get split ``valid`` instead of ``split``.
    """
    path = Path(csv_path)
    if not path.is_file():
        raise ManifestError(f"CPED file not found: {path}")
    dev = set(dev_series)
    records: list[ManifestRecord] = []
    dropped: Counter[str] = Counter()
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        need = {"TV_ID", "Utterance_ID", "Speaker", "Emotion", "Utterance"}
        if reader.fieldnames is None or not need <= set(reader.fieldnames):
            raise ManifestError(f"{path}: not a CPED CSV (needs columns {sorted(need)})")
        for lineno, row in enumerate(reader, start=2):
            label = row["Emotion"].strip()
            text = row["Utterance"].strip()
            if label not in CPED_TO_CANONICAL:
                if label not in CPED_DROPPED:
                    raise ManifestError(f"{path}:{lineno}: unknown CPED emotion {label!r}")
                dropped[label] += 1
                continue
            if not text:
                dropped["<empty text>"] += 1
                continue
            records.append(
                ManifestRecord(
                    id=f"cped-{row['Utterance_ID']}",
                    audio=None,
                    text=text,
                    emotion=CPED_TO_CANONICAL[label],
                    speaker=f"cped-{row['TV_ID']}-{row['Speaker']}",
                    split="valid" if row["TV_ID"] in dev else split,
                    source=f"cped:{label}",
                )
            )
    return records, dropped


def cped_records(
    shared: Path, dev_series: Iterable[str] = DEFAULT_DEV_SERIES
) -> list[ManifestRecord]:
    """Train + dev rows (from valid_split.csv) and test rows (from test_split.csv)."""
    base = cped_dir(shared)
    train, _ = read_cped(base / "valid_split.csv", "train", dev_series)
    test, _ = read_cped(base / "test_split.csv", "test")
    return train + test
