"""Recognition config section (``[asr]`` in the TOML file)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WhisperConfig:
    """Whisper base (CTranslate2) assembled from registry weight packages."""

    model_dir: str = ""  # empty: assemble into <cache>/models/whisper-base
    compute_type: str = "int8"
    cpu_threads: int = 2
    beam_size: int = 5
    patience: float = 1.0  # beam search patience (faster-whisper)
    repetition_penalty: float = 1.0  # > 1 penalises tokens already generated
    without_timestamps: bool = True  # plain text decoding (timestamp tokens off)
    language: str = "zh"
    # temperature fallback (Whisper paper): re-decode at these temperatures when the text is
    # too repetitive / unsure. (0.0,) = plain deterministic decoding, as the recipe measured.
    temperatures: tuple[float, ...] = (0.0,)
    suppress_blank: bool = True
    # loudness normalisation before decoding: RMS of the audio set to this dBFS (0 = off)
    target_rms_dbfs: float = 0.0
    batch_size: int = 4  # recordings per batched decode (transcribe_batch: CLI files, jobs)
    tail_pad_ms: int = 0  # silence appended to a whole file before decoding (0: measured best)
    # a whole file is decoded only when the endpointer's speech detector finds an utterance in it
    speech_gate: bool = True
    initial_prompt: str = ""  # off: a Chinese prompt can come back as the transcript
    # partials (provisional text while the user speaks) take a cheap path: the encoder sees
    # only the utterance plus ``partial_margin_s`` of padding, at least ``partial_window_s``,
    # instead of a 30 s window (~7x less encoder work), decoded with ``partial_beam_size``.
    # Finals use the full recipe above (a short window costs 1.5-6 CER points there:
    # docs/asr.md), except busy-time dialogue finals (``busy_window_s`` below).
    # partial_window_s = 0 decodes partials like finals.
    partial_window_s: float = 10.0
    partial_margin_s: float = 3.0
    partial_beam_size: int = 1
    # a dialogue stream's final while the recognizer is busy (other finals running or
    # queued): the encoder sees the utterance plus ``partial_margin_s``, at least this many
    # seconds, instead of 30 s, with the final's beam and guards — the decode takes 40 % of
    # the time (0.33 vs 0.81 s) for +1.5-1.9 CER points on whole clips (asr-dev, 150 CASIA
    # clips; 20 s: the same, 0.41 s; 10 s: +9.7) and up to +7 on short stream pieces
    # (docs/asr.md); only under load, so one session alone always gets the full recipe.
    # 0 = always the full window (accuracy before reply time under load).
    busy_window_s: float = 15.0
    # every dialogue-stream final with that short window (0 = only when busy, as above): the
    # dialogue stream's finals on asr-dev go from 13.17 % to 20.49 % CER with 15 s (short
    # pieces lose most; docs/asr.md), so it stays off — for experiments only
    final_window_s: float = 0.0


@dataclass(frozen=True)
class GuardConfig:
    """Thresholds of the hallucination / repetition guard (defaults from the Whisper paper)."""

    compression_ratio_threshold: float = 2.4
    logprob_threshold: float = -1.0
    no_speech_threshold: float = 0.6
    max_unit_chars: int = 24  # longest repeated unit looked for
    min_repeats: int = 4  # a unit (≥2 chars) repeated this often in a row is a loop
    min_repeats_single: int = 8  # a single character repeated this often (哈哈哈哈 is speech)
    keep_repeats: int = 1  # copies of the unit kept when a loop is truncated


@dataclass(frozen=True)
class ParaformerConfig:
    """FunASR model directories (local paths or ModelScope ids resolved with local_files_only)."""

    model: str = ""  # offline Paraformer / SeacoParaformer dir or ModelScope id
    streaming_model: str = ""  # ParaformerStreaming dir or id
    vad_model: str = ""  # fsmn-vad dir or id
    punc_model: str = ""  # ct-punc dir or id
    chunk_size: tuple[int, int, int] = (0, 10, 5)  # 600 ms chunks, 300 ms look-ahead
    encoder_chunk_look_back: int = 4
    decoder_chunk_look_back: int = 1
    hotwords: str = ""  # SeacoParaformer hotwords, space separated (per-call ones are added)
    ncpu: int = 2  # torch threads


@dataclass(frozen=True)
class EndpointConfig:
    """Speech detection and endpointing: the same for streams and for whole files.

    ``vad = "silero"`` (default) scores 32 ms windows with Silero VAD v6 (the ONNX file in
    faster-whisper's wheel): speech opens at ``speech_threshold`` and, once open, stays until
    the probability falls under ``speech_threshold - 0.15`` (Silero's own hysteresis). It
    rejects noise, tones and music far better than webrtcvad, which marks most loud sound as
    voiced. ``vad = "webrtc"`` keeps webrtcvad (``aggressiveness``, ``frame_ms``).
    """

    vad: str = "silero"  # silero | webrtc
    speech_threshold: float = 0.5  # Silero speech probability that counts as speech
    aggressiveness: int = 2  # webrtcvad mode 0..3
    frame_ms: int = 20  # webrtcvad: 10, 20 or 30 (Silero always uses 32 ms windows)
    min_speech_ms: int = 200  # speech needed to open an utterance
    min_silence_ms: int = 600  # hangover: silence that closes an utterance
    pre_roll_ms: int = 300  # audio kept from before the speech onset
    max_utterance_s: float = 20.0  # force an endpoint after this long
    partial_interval_ms: int = 600  # Whisper: re-decode the open utterance at most this often
    # Whisper: after this much trailing silence decode the utterance early, so when the
    # hangover confirms the endpoint the final reuses that decode (0 = off)
    prefetch_silence_ms: int = 120
    # partials by the recognizer's cheap path (Whisper: asr.whisper.partial_window_s); off
    # where clients keep partial text (the FunASR online mode commits stable prefixes)
    cheap_partials: bool = True
    # adaptive hangover (Whisper streams): once the prefetch has decoded the utterance, text
    # that reads as a finished sentence ends it after ``early_silence_ms`` of silence (or at
    # once, when that much has passed); text that trails off (a comma, 因为, 然后, 就是 …)
    # keeps it open until ``incomplete_silence_ms``. Without a decode, ``min_silence_ms``.
    # 0 turns either off. False cuts are measured in benchmarks/asr.py --endpointing.
    early_silence_ms: int = 300
    incomplete_silence_ms: int = 1000
    # Whisper streams: while other final decodes are running or waiting (the engine's hint,
    # ``WhisperRecognizer.busy``), a final decodes with ``asr.whisper.busy_window_s`` instead
    # of the 30 s window: about half the time, a little less accurate (docs/asr.md)
    busy_window: bool = True


@dataclass(frozen=True)
class TranscriptionEndpointConfig(EndpointConfig):
    """Endpointing of transcription streams (``/v1/asr`` online and 2pass), not dialogue turns.

    A dialogue turn must end soon after the speaker stops (``asr.endpoint``, tuned for reply
    latency). A transcription stream has no reply to wait for, so its finals close only at a
    long pause, at ``max_utterance_s`` (inside Whisper's 30 s window) or at the end of input:
    each final then decodes as much context as a whole file would (docs/asr.md has the
    figures). Partials still come every ``partial_interval_ms`` from re-decoding the open
    segment.
    """

    min_silence_ms: int = 1200
    max_utterance_s: float = 28.0
    # the final decodes up to 400 ms after the last voiced frame; a pause must also be this
    # long before the open segment is decoded ahead of its endpoint
    prefetch_silence_ms: int = 400
    # no adaptive hangover: a transcription final waits for the long pause whatever it reads
    early_silence_ms: int = 0
    incomplete_silence_ms: int = 0
    # FunASR online clients keep the partials' stable prefix as text: full-recipe partials
    cheap_partials: bool = False
    # no reply waits for a transcription final: always the full window
    busy_window: bool = False


STREAM_PROFILES = ("dialogue", "transcription")


@dataclass(frozen=True)
class ASRConfig:
    """Which recognizer to use and how."""

    backend: str = "whisper"  # whisper | paraformer
    itn: bool = False  # inverse text normalisation (numbers, dates, money) by default
    # words the decoder should favour on every path (space separated: product names, terms);
    # the engine adds the knowledge base's ``hotwords`` list when kb_hotwords is on
    hotwords: str = ""
    kb_hotwords: bool = True
    # always: every decode is biased (+5.4 points general CER); sounds_like: decode plainly and
    # re-decode with the hotwords only when the text sounds like one (asr/hotwords.py)
    hotword_mode: str = "sounds_like"
    whisper: WhisperConfig = field(default_factory=WhisperConfig)
    guard: GuardConfig = field(default_factory=GuardConfig)
    paraformer: ParaformerConfig = field(default_factory=ParaformerConfig)
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)  # dialogue turns
    transcription_endpoint: TranscriptionEndpointConfig = field(
        default_factory=TranscriptionEndpointConfig
    )

    def endpoint_for(self, profile: str) -> EndpointConfig:
        """The endpointing of a stream profile: ``dialogue`` or ``transcription``."""
        if profile == "dialogue":
            return self.endpoint
        if profile == "transcription":
            return self.transcription_endpoint
        raise ValueError(f"stream profile must be one of {STREAM_PROFILES}, got {profile!r}")
