"""Synthesized files served at ``/download/{id}``: opaque random ids, never paths; they expire."""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_ID = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
MEDIA_SUFFIX = {"audio/wav": ".wav", "audio/pcm": ".pcm", "audio/flac": ".flac"}


@dataclass(frozen=True)
class Download:
    """One stored file."""

    id: str
    path: Path
    media_type: str
    expires_at: float


class DownloadStore:
    """Files under one directory, addressed by unguessable ids, deleted after ``ttl_s``."""

    def __init__(self, root: Path, ttl_s: float) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.ttl_s = ttl_s
        self._items: dict[str, Download] = {}
        self._lock = threading.Lock()

    def put(
        self, data: bytes, media_type: str = "audio/wav", ttl_s: float | None = None
    ) -> Download:
        """Store ``data``; returns its record (write to a temp file, then rename)."""
        self.purge()
        file_id = secrets.token_urlsafe(24)
        path = self.root / (file_id + MEDIA_SUFFIX.get(media_type, ".bin"))
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".part-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        item = Download(file_id, path, media_type, time.time() + (ttl_s or self.ttl_s))
        with self._lock:
            self._items[file_id] = item
        return item

    def get(self, file_id: str) -> Download | None:
        """The live record for ``file_id``; ``None`` for malformed, unknown or expired ids."""
        if not _ID.match(file_id or ""):
            return None
        with self._lock:
            item = self._items.get(file_id)
        if item is None or item.expires_at < time.time() or not item.path.is_file():
            return None
        return item

    def purge(self) -> int:
        """Delete expired files; returns how many."""
        now = time.time()
        with self._lock:
            dead = [k for k, v in self._items.items() if v.expires_at < now]
            items = [self._items.pop(k) for k in dead]
        for item in items:
            item.path.unlink(missing_ok=True)
        return len(items)

    def clear(self) -> None:
        """Delete every file (shutdown of a temporary store)."""
        with self._lock:
            items = list(self._items.values())
            self._items.clear()
        for item in items:
            item.path.unlink(missing_ok=True)
