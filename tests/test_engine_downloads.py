"""Download store: opaque ids, no paths, expiry."""

from __future__ import annotations

import time

from tingshuo.engine.downloads import DownloadStore


def test_ids_are_opaque_and_files_expire(tmp_path) -> None:  # noqa: ANN001
    store = DownloadStore(tmp_path, ttl_s=0.2)
    item = store.put(b"RIFF....", "audio/wav")
    assert len(item.id) >= 32 and "/" not in item.id and item.path.parent == tmp_path
    assert store.get(item.id) == item
    other = store.put(b"x")
    assert other.id != item.id
    for bad in ("../" + item.id, item.path.name, str(item.path), "", "a" * 10, item.id + "/.."):
        assert store.get(bad) is None, bad
    time.sleep(0.25)
    assert store.get(item.id) is None
    assert store.purge() == 2 and not item.path.exists()


def test_clear_removes_files(tmp_path) -> None:  # noqa: ANN001
    store = DownloadStore(tmp_path, ttl_s=60)
    item = store.put(b"data")
    store.clear()
    assert not item.path.exists() and store.get(item.id) is None
