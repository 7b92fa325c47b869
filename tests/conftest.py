"""Shared pytest fixtures: paths to ../shared evaluation data and an isolated cache dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.paths import shared_dir


@pytest.fixture(scope="session")
def shared() -> Path:
    """``../shared`` beside the checkout (evaluation data, reference facts)."""
    path = shared_dir()
    if not path.is_dir():
        pytest.skip(f"../shared not found at {path}: evaluation data unavailable")
    return path


@pytest.fixture(scope="session")
def asr_dev(shared: Path) -> Path:
    """The real Mandarin clips of ../shared/eval/asr-dev."""
    return shared / "eval" / "asr-dev"
