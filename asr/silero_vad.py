"""Silero VAD (v6, ONNX) as a streaming speech-probability model — the speech detector in front
of the decoder.

The model file is the one faster-whisper ships in its wheel (``faster_whisper/assets/
silero_vad_v6.onnx``, MIT), so nothing is downloaded. It is run with onnxruntime directly,
one thread: every call takes whole 512-sample windows (32 ms at 16 kHz), each prefixed by the
64 samples of context before it, and carries the LSTM state (``h``, ``c``) across calls, so
feeding audio in any chunking gives the same probabilities as feeding it at once.
faster-whisper's own ``SileroVADModel`` restarts its state on every call (whole-file use).
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

import numpy as np

from tingshuo.asr.base import ASR_SAMPLE_RATE

WINDOW = 512  # samples per probability: 32 ms at 16 kHz
CONTEXT = 64  # samples of the previous window the model sees before each window
STATE_SHAPE = (1, 1, 128)
MAX_BATCH = 4096  # windows per onnxruntime call (~2 min of audio)


def model_path() -> Path:
    """The Silero v6 ONNX file inside the installed faster-whisper wheel."""
    from faster_whisper.utils import get_assets_path

    return Path(get_assets_path()) / "silero_vad_v6.onnx"


@functools.lru_cache(maxsize=1)
def _session() -> Any:
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.enable_cpu_mem_arena = False
    opts.log_severity_level = 4
    return onnxruntime.InferenceSession(
        str(model_path()), providers=["CPUExecutionProvider"], sess_options=opts
    )


class SileroVad:
    """Streaming Silero speech probabilities for 16 kHz float32 audio.

    One object per stream (it holds the recurrent state); the ONNX session is shared and
    onnxruntime sessions are safe to call from several threads.
    """

    def __init__(self) -> None:
        self._session = _session()
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget the recurrent state and context (a new, unrelated stream)."""
        self._h = np.zeros(STATE_SHAPE, np.float32)
        self._c = np.zeros(STATE_SHAPE, np.float32)
        self._context = np.zeros(CONTEXT, np.float32)

    def probabilities(self, windows: np.ndarray) -> np.ndarray:
        """Speech probability of each of ``len(windows) // WINDOW`` consecutive windows.

        ``windows`` must hold a whole number of windows (16 kHz float32 samples).
        """
        samples = np.asarray(windows, dtype=np.float32).reshape(-1)
        if len(samples) % WINDOW:
            raise ValueError(f"expected a multiple of {WINDOW} samples, got {len(samples)}")
        if not len(samples):
            return np.zeros(0, np.float32)
        windows2d = samples.reshape(-1, WINDOW)
        out = []
        with self._lock:
            for i in range(0, len(windows2d), MAX_BATCH):  # bounded memory on long files
                batch = windows2d[i : i + MAX_BATCH]
                contexts = np.concatenate([self._context[None, :], batch[:-1, -CONTEXT:]], axis=0)
                inputs = np.concatenate([contexts, batch], axis=1)
                probs, self._h, self._c = self._session.run(
                    None, {"input": inputs, "h": self._h, "c": self._c}
                )
                self._context = batch[-1, -CONTEXT:].copy()
                out.append(np.asarray(probs, dtype=np.float32).reshape(-1))
        return np.concatenate(out)


def speech_probabilities(samples: np.ndarray) -> np.ndarray:
    """Per-window speech probabilities of a whole recording (zero-padded to whole windows)."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    pad = (-len(samples)) % WINDOW
    return SileroVad().probabilities(np.pad(samples, (0, pad)))


def speech_seconds(samples: np.ndarray, threshold: float = 0.5) -> float:
    """Seconds of ``samples`` (16 kHz) whose windows Silero scores at or above ``threshold``."""
    probs = speech_probabilities(samples)
    return float((probs >= threshold).sum()) * WINDOW / ASR_SAMPLE_RATE
