"""CSV and PNG output for benchmarks/load.py (matplotlib, Agg backend, small figures)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path


def write_csv(path: Path, rows: Iterable[Mapping[str, object]]) -> int:
    """Write dict rows (keys of the first row are the header); returns the row count."""
    rows = list(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        if not rows:
            return 0
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_capacity(steps: list[Mapping[str, float]], bound_ms: float, path: Path) -> None:
    """p50/p95 voice-to-voice latency and errors against concurrent clients."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=90)
    n = [s["clients"] for s in steps]
    ax.plot(n, [s["v2v_p50_ms"] for s in steps], "o-", label="p50 voice-to-voice")
    ax.plot(n, [s["v2v_p95_ms"] for s in steps], "s-", label="p95 voice-to-voice")
    ax.axhline(bound_ms, color="red", ls="--", lw=1, label=f"bound {bound_ms:g} ms")
    for s in steps:
        if s["errors"]:
            ax.annotate(f"{int(s['errors'])} err", (s["clients"], s["v2v_p95_ms"]), color="red")
    ax.set_xlabel("concurrent clients (real-time speech)")
    ax.set_ylabel("latency (ms)")
    ax.set_title("/v1/dialog capacity ramp")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_soak(
    samples: list[Mapping[str, float]], sessions: list[Mapping[str, object]], path: Path
) -> None:
    """RSS, open fds, threads and session latency over the soak run."""
    plt = _plt()
    fig, axes = plt.subplots(4, 1, figsize=(7, 8), dpi=80, sharex=True)
    t = [s["t_s"] for s in samples]
    axes[0].plot(t, [s["rss_mb"] for s in samples])
    axes[0].set_ylabel("RSS (MiB)")
    axes[1].plot(t, [s["fds"] for s in samples])
    axes[1].set_ylabel("open fds")
    axes[2].plot(t, [s["threads"] for s in samples])
    axes[2].set_ylabel("threads")
    ok = [s for s in sessions if int(s["ok"])]
    axes[3].plot([s["t_s"] for s in ok], [s["v2v_ms"] for s in ok], ".", ms=3)
    bad = [s for s in sessions if not int(s["ok"])]
    if bad:
        axes[3].plot([s["t_s"] for s in bad], [0] * len(bad), "rx", label="errors")
        axes[3].legend(fontsize=8)
    axes[3].set_ylabel("v2v (ms)")
    axes[3].set_xlabel("time since start (s)")
    for ax in axes:
        ax.grid(alpha=0.3)
    phase2 = [s["t_s"] for s in samples if s.get("phase") == "concurrent"]
    if phase2:
        for ax in axes:
            ax.axvline(phase2[0], color="gray", ls=":", lw=1)
    axes[0].set_title("soak: sequential sessions, then concurrent at half capacity")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
