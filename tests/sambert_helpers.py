"""Shared helpers for the SAM-BERT tests: reference paths and listing readers."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.paths import shared_dir

COMPUTED_KEYS = {
    "text_encoder.ling_enc.position_enc.position_enc",
    "variance_adaptor.dur_position_encoder.inv_timescales",
}


def reference_dir() -> Path:
    """``../shared/reference/sambert``, or a visible skip when it is absent."""
    path = shared_dir() / "reference" / "sambert"
    if not path.is_dir():
        pytest.skip(f"SAM-BERT reference facts not found at {path}")
    return path


def read_listing(path: Path) -> list[tuple[str, list[int]]]:
    """``key<TAB>[shape]<TAB>dtype`` lines -> [(key, shape)] in file order."""
    rows = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        key, shape, dtype = line.split("\t")
        assert dtype == "float32"
        inner = shape.strip("[]").strip()
        rows.append((key, [int(s) for s in inner.split(",")] if inner else []))
    return rows
