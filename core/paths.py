"""Well-known filesystem locations (resolved lazily, never at import time)."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir(configured: str = "") -> Path:
    """Root of tingshuo's local cache: ``configured`` when set, else ``$TINGSHUO_CACHE_DIR``,
    else ``$XDG_CACHE_HOME/tingshuo``."""
    if configured:
        return Path(configured).expanduser()
    env = os.environ.get("TINGSHUO_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "tingshuo"


def repo_root() -> Path:
    """The source checkout root (the directory holding ``core/`` and ``engine/``)."""
    return Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """``../shared`` beside the checkout: evaluation data and reference facts (not shipped)."""
    env = os.environ.get("TINGSHUO_SHARED_DIR")
    return Path(env) if env else repo_root().parent / "shared"
