"""Synthesis config section (``[tts]`` in the TOML file)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class KokoroConfig:
    """Kokoro-82M int8 ONNX assembled from registry weight packages."""

    model_dir: str = ""  # empty: assemble into <cache>/models/kokoro
    threads: int = 2  # onnxruntime intra-op threads
    # onnxruntime graph optimisation level: disable | basic | extended | all. "all" took
    # the least CPU time per audio second on 2 cores (BENCHMARKS.md, Kokoro session options)
    graph_optimization: str = "all"
    # a native Mandarin voice (fetched with npm, tts/kokoro_voices.py): of the eight, the
    # lowest round-trip CER on 30 CSMSC sentences (14.3 %, tied with zm_yunxia; zf_xiaoxiao
    # 14.8 %; BENCHMARKS.md). Without the native voices: jf_gongitsune, with a warning.
    voice: str = "zm_yunjian"
    # base speaking rate (Kokoro's `speed` input). In the Whisper round trip on 100 CSMSC
    # sentences 0.75–1.0 scattered 20.0–21.2 % neutral CER with no trend (benchmarks/results/
    # tts.md); 0.9 is kept: among the best and a natural pace.
    speed: float = 0.9
    # factor on the f0 excursions of every utterance (PSOLA, around the speaker's mean f0).
    # The Japanese voices flatten Mandarin tone contours; in the Whisper round trip on the
    # 100 CSMSC sentences neutral CER was 20.2 % at 1.0, 19.6 % at 1.25, 19.9 % at 1.4
    # (benchmarks/results/tts.md). Emotions multiply their own pitch range onto it.
    tone_range: float = 1.25
    # how an emotion's speaking rate is made: "psola" (a PSOLA stretch of the model's
    # neutral timing) or "model" (Kokoro's own speed input, i.e. its own durations)
    emotion_rate: str = "psola"
    # fetch the eight native Mandarin voices with npm when the model is assembled
    # (tts/kokoro_voices.py); false, or npm missing: the Japanese voices only
    native_voices: bool = True
    voices_dir: str = ""  # where the native voices are kept; empty: <model dir>/voices-zh


@dataclass(frozen=True)
class SambertConfig:
    """Native SAM-BERT + HiFi-GAN on a ModelScope Sambert-HifiGan directory."""

    model_dir: str = ""  # local dir, or a ModelScope id resolved with local_files_only
    voice: str = ""  # empty: the directory's first voice
    threads: int = 2
    emotion_mode: str = "auto"  # tokens | prosody | auto (tokens for *_emo voices)
    trust_pickle: bool = False  # allow full unpickling of checkpoints that are not tensor-only


@dataclass(frozen=True)
class CacheConfig:
    """Content-addressed on-disk synthesis cache."""

    enabled: bool = True
    dir: str = ""  # empty: <cache>/synthesis
    max_bytes: int = 512 * 1024 * 1024  # LRU eviction above this total size


@dataclass(frozen=True)
class TTSConfig:
    """Which synthesizer to use and how."""

    backend: str = "kokoro"  # kokoro | sambert
    fallback: str = ""  # backend to switch to when the primary keeps failing
    max_segment_chars: int = 60  # longer text is split (sentences, then commas, then words)
    # a stream's first segment (the first clause if ≤ 1.5× this, else the words that fit); the
    # segments after it grow ×2 each up to max_segment_chars. 6 rather than 10: first byte of a
    # streamed 300-character /v1/audio/speech, median of 7, 0.98 s vs 1.53 s (BENCHMARKS.md)
    first_segment_chars: int = 6
    parallel_segments: int = 2  # segments rendered side by side (batch) / in flight (stream)
    sentence_pause_ms: int = 250  # silence after 。！？；
    clause_pause_ms: int = 120  # silence after ，、：
    emotion_rendering: bool = True  # render emotions by prosody where the backend has no tokens
    # which cues of the emotion table (tts/prosody.py) are rendered: any of
    # rate,pitch,range,energy,pause (all by default; fewer: measure each with and without)
    emotion_cues: str = "rate,pitch,range,energy,pause"
    kokoro: KokoroConfig = field(default_factory=KokoroConfig)
    sambert: SambertConfig = field(default_factory=SambertConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
