"""``tingshuo train``: the click group, and a tiny multi-process run under torchrun (DDP, gloo)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tingshuo.core.paths import repo_root
from tingshuo.dialog.checkpoint import load_inference_checkpoint
from tingshuo.engine.cli import cli


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(cli, ["train", "--help"])
    assert result.exit_code == 0
    assert "bridge" in result.output and "gen-speech" in result.output


def test_bad_config_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.toml"
    bad.write_text("epochz = 3\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["train", "bridge", "--config", str(bad)])
    assert result.exit_code == 2 and "epochz" in result.output


@pytest.mark.slow
def test_torchrun_two_processes(tmp_path: Path, asr_dev: Path) -> None:
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    if not Path(torchrun).exists():
        pytest.skip("torchrun not installed")
    with (asr_dev / "transcripts.tsv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    manifest = tmp_path / "speech.jsonl"
    manifest.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"d{i}",
                    "audio": str(asr_dev / "wav" / r["file"]),
                    "text": r["transcript"],
                    "emotion": "neutral",
                    "speaker": str(i),
                    "split": "valid" if i % 4 == 0 else "train",
                },
                ensure_ascii=False,
            )
            + "\n"
            for i, r in enumerate(rows)
        ),
        encoding="utf-8",
    )
    config = tmp_path / "tiny.toml"
    config.write_text(
        f'out_dir = "{tmp_path / "run"}"\ncache_dir = "{tmp_path / "cache"}"\nmanifests = ["{manifest}"]\n'
        "max_text_rows = 300\nepochs = 2\nbatch_size = 64\npair_batch_size = 4\n"
        "[dims]\nngram_buckets = 512\nngram_dim = 8\nhidden = 16\nshared = 8\n",
        encoding="utf-8",
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(repo_root())}
    proc = subprocess.run(
        [
            torchrun,
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "tingshuo.engine.train_cli",
            "bridge",
            "--config",
            str(config),
            "--no-progress",
        ],
        cwd=repo_root(),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert load_inference_checkpoint(tmp_path / "run").dims.shared == 8
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["best"]["epoch"] in (1, 2)
