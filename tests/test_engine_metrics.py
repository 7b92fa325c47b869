"""Prometheus export: stage histograms and cache counters read from the synthesis cache."""

from __future__ import annotations

from types import SimpleNamespace

from tingshuo.engine.metrics import Metrics


def test_export_has_stage_latency_and_cache_counters() -> None:
    m = Metrics()
    with m.timed("tts"):
        pass
    m.watch_cache(SimpleNamespace(cache=SimpleNamespace(hits=3, misses=1)))
    text = m.export().decode()
    assert 'tingshuo_stage_seconds_count{stage="tts"} 1.0' in text
    assert "tingshuo_cache_hits_total 3.0" in text and "tingshuo_cache_misses_total 1.0" in text
    assert Metrics().export()  # independent registries: no duplicate-name errors
