"""Files the cache builds: atomic writes and checksums (shared by every model assembler)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

_CHUNK = 1 << 20  # bytes read at a time when hashing


def write_atomic(dst: Path, data: bytes | str) -> None:
    """Write ``data`` to ``dst`` through a temporary file in the same folder and
    ``os.replace`` (atomic on POSIX): readers never see a partial file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", dir=dst.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, dst)
    finally:
        Path(tmp).unlink(missing_ok=True)


def sha256_file(path: Path) -> str:
    """sha256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()
