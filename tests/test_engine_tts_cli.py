"""tingshuo say / voices through the real CLI (click's runner, real Kokoro model)."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf
from click.testing import CliRunner

from tingshuo.engine.cli import cli


@pytest.fixture()
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.setenv("TINGSHUO_TTS__CACHE__DIR", str(tmp_path / "syn"))

    def invoke(*args: str):  # noqa: ANN202
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


@pytest.mark.slow
def test_say_writes_16bit_wav_at_the_requested_rate(run, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "out.wav"
    res = run(
        "say",
        "今天是2019年1月31号。",
        "--emotion",
        "happy",
        "--intensity",
        "1.5",
        "--sample-rate",
        "16000",
        "-o",
        str(out),
    )
    assert res.exit_code == 0, res.output
    info = sf.info(str(out))
    assert info.samplerate == 16000 and info.subtype == "PCM_16" and info.channels == 1
    assert info.duration > 1.0


@pytest.mark.slow
def test_say_from_file_to_raw_pcm(run, tmp_path: Path) -> None:  # noqa: ANN001
    src = tmp_path / "in.txt"
    src.write_text('<speak>你好<break time="200ms"/>再见</speak>', encoding="utf-8")
    out = tmp_path / "out.pcm"
    res = run("say", "-f", str(src), "-o", str(out))
    assert res.exit_code == 0, res.output
    data = out.read_bytes()
    assert len(data) % 2 == 0 and len(data) > 2 * 24000 * 0.5  # > 0.5 s at 24 kHz


@pytest.mark.slow
def test_voices_lists_the_default_first(run) -> None:  # noqa: ANN001
    res = run("voices")
    assert res.exit_code == 0
    first = res.output.splitlines()[0]
    assert "(default)" in first
    if "\tzh" in first:  # native Mandarin voices fetched: they come first, the default leads
        from tingshuo.tts.config import KokoroConfig

        assert first.startswith(KokoroConfig().voice + "\tzh, ")
        assert [line.split("\t")[1][:2] for line in res.output.splitlines()[:8]] == ["zh"] * 8
    else:
        assert first.startswith("jf_gongitsune\tja")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--voice", "nobody"), "unknown voice 'nobody'"),
        (("--emotion", "ecstatic"), "unknown emotion 'ecstatic'"),
        (("--intensity", "5"), "intensity must be in"),
        (("--sample-rate", "100"), "between 8000 and 192000"),
    ],
)
def test_bad_options_are_clear_errors(run, tmp_path: Path, args, message: str) -> None:  # noqa: ANN001
    res = run("say", "你好", "-o", str(tmp_path / "x.wav"), *args)
    assert res.exit_code != 0 and message in res.output
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.slow
def test_bad_ssml_is_a_clear_error(run, tmp_path: Path) -> None:  # noqa: ANN001
    res = run("say", "<speak><voice>x</voice></speak>", "-o", str(tmp_path / "x.wav"))
    assert res.exit_code != 0 and "unsupported SSML element <voice>" in res.output


def test_text_and_file_are_exclusive(run, tmp_path: Path) -> None:  # noqa: ANN001
    res = run("say", "-o", str(tmp_path / "x.wav"))
    assert res.exit_code != 0 and "either as an argument or with -f" in res.output


@pytest.mark.slow
def test_say_streams_raw_pcm_to_stdout(run) -> None:  # noqa: ANN001
    res = run("say", "你好。再见。", "-o", "-", "--sample-rate", "16000")
    assert res.exit_code == 0
    data = res.stdout_bytes
    assert len(data) % 2 == 0 and len(data) > 2 * 16000 * 0.5
