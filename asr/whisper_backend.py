"""The default recognizer: Whisper base (CTranslate2) through faster-whisper, fully offline.

One decoding recipe for every entry point (chosen on asr-dev, table in docs/asr.md): int8 on
CPU, language ``zh``, beam 5, temperature 0, no timestamps, no conditioning on previous text,
no initial prompt; hotwords only on a re-decode of text that sounds like one
(:mod:`asr.hotwords`). Output is converted to Simplified characters (OpenCC t2s) and passed
through :mod:`asr.guards` (repetition loops, text hallucinated on noise or music).
The speech detector (Silero, :mod:`asr.endpointing`) runs first on both shapes of input: a
whole file is decoded in one pass only if it holds speech; a stream decodes each utterance it
endpoints, re-decoding the open one at most every ``partial_interval_ms`` for partials.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tingshuo.asr.base import ASR_SAMPLE_RATE, Segment, Transcript
from tingshuo.asr.config import ASRConfig, EndpointConfig
from tingshuo.asr.encoder_pooling import EncoderStates, pool_encoder_states
from tingshuo.asr.endpointing import Endpointer, Onset, sentence_looks_complete
from tingshuo.asr.guards import DecodedSegment, guard_segments
from tingshuo.asr.hotwords import hotwords_heard
from tingshuo.asr.streaming import VadRecognizerStream
from tingshuo.asr.textproc import finish_transcript, to_simplified
from tingshuo.core.audio import Audio

log = logging.getLogger(__name__)

MIN_DECODE_S = 0.1  # shorter audio is returned as empty text without running the model
MIN_PARTIAL_S = 1.0  # no partial before this much utterance audio (pre-roll included);
# Whisper rarely returns text for less, and every decode costs a full 30 s window
PARTIAL_MAX_TOKENS = 224  # a partial longer than this is cut (a final decodes in full)
PARTIAL_BUSY_FACTOR = 1.5  # partial spacing ≥ this × the last partial's decode time
SAME_AUDIO_SLACK = 2  # samples: a decode this close in length covered the same audio (rounding)
BATCH_MAX_S = 30.0  # transcribe_batch batches recordings that fit one Whisper window
FLAG_NO_SPEECH = "no_speech"  # Transcript.flags: the speech detector found no speech
FLAG_BUSY_WINDOW = "busy_window"  # Transcript.flags: decoded with the short busy-time window


class WhisperRecognizer:
    """Whisper base recognizer; thread-safe for concurrent ``transcribe`` calls."""

    name = "whisper"

    def __init__(
        self,
        model_dir: Path,
        config: ASRConfig,
        punctuate: Callable[[str], str] | None = None,
    ) -> None:
        from faster_whisper import WhisperModel

        # faster-whisper logs every call at INFO ("Processing audio with duration …")
        fw_log = logging.getLogger("faster_whisper")
        if fw_log.level == logging.NOTSET:
            fw_log.setLevel(logging.WARNING)

        self.config = config
        self.model_dir = Path(model_dir)
        self._punctuate = punctuate
        wc = config.whisper
        self._model = WhisperModel(
            str(self.model_dir),
            device="cpu",
            compute_type=wc.compute_type,
            cpu_threads=wc.cpu_threads,
            local_files_only=True,
        )
        # faster-whisper's transcribe calls ``self.encode`` once per 30 s window; this hook
        # keeps that output so the emotion bridge reads the same pass (no second encoder run)
        self._capture = threading.local()
        # set by the engine: whether other final decodes are running or waiting now (a
        # dialogue stream's final then takes the short ``busy_window_s`` window)
        self.busy: Callable[[], bool] | None = None
        self._encode = self._model.encode
        self._model.encode = self._encode_and_keep  # type: ignore[method-assign]

    def _encode_and_keep(self, features: np.ndarray) -> Any:
        out = self._encode(features)
        sink: list[np.ndarray] | None = getattr(self._capture, "sink", None)
        if sink is not None:
            sink.append(np.asarray(out)[0])  # (1500, dim) on CPU
        return out

    def encoder_states(self, samples: np.ndarray) -> EncoderStates | None:
        """One encoder pass over 16 kHz ``samples`` (≤ 30 s used), pooled; no decoding.

        For callers that need only the bridge's speech input (training features, text
        already known). ``None`` for audio shorter than ``MIN_DECODE_S``.
        """
        from faster_whisper.audio import pad_or_trim

        if len(samples) < MIN_DECODE_S * ASR_SAMPLE_RATE:
            return None
        # as transcribe prepares its window: the last mel frame is not content (faster-whisper's
        # ``content_frames = features.shape[-1] - 1``), the rest is zero-padded to 30 s
        features = self._model.feature_extractor(samples)[:, :-1]
        sink: list[np.ndarray] = []
        self._capture.sink = sink
        try:
            self._model.encode(pad_or_trim(features))
        finally:
            self._capture.sink = None
        return pool_encoder_states(sink, samples, len(samples))

    # ---- offline -------------------------------------------------------------------------

    def decode_samples(
        self, samples: np.ndarray, *, hotwords: str = "", window_s: float = 0.0
    ) -> Transcript:
        """Recognise 16 kHz float32 samples: guarded, Simplified, no ITN/punctuation.

        Hotwords (``asr.hotwords`` + ``hotwords``) bias every decode with
        ``asr.hotword_mode = "always"``; with ``"sounds_like"`` only a re-decode of text that
        sounds like one of them (asr/hotwords.py). ``window_s`` > 0: the encoder sees the
        audio plus ``partial_margin_s`` of padding, at least ``window_s`` seconds, instead
        of a 30 s window (faster, less accurate: the busy-time final); audio that does not
        fit gets the full window.
        """
        words = merge_hotwords(self.config.hotwords, hotwords)
        if not words or self.config.hotword_mode == "always":
            return self._decode(samples, words, window_s)
        plain = self._decode(samples, "", window_s)
        if not hotwords_heard(plain.text, words):
            return plain
        return self._decode(samples, words, window_s)

    def _short_window(self, samples: np.ndarray, window_s: float) -> tuple[np.ndarray, int] | None:
        """Mel features of ``samples`` and a short encoder window for them: the audio plus
        ``partial_margin_s``, at least ``window_s``, at most 30 s (frames); None when the
        audio plus the margin does not fit in 30 s."""
        extractor = self._model.feature_extractor
        features = extractor(samples)[:, :-1]
        per_s = 1.0 / extractor.time_per_frame  # mel frames per second
        full = extractor.nb_max_frames
        needed = features.shape[1] + int(self.config.whisper.partial_margin_s * per_s)
        if needed > full:
            return None
        return features, min(full, max(int(window_s * per_s), needed))

    def _window_segment(
        self,
        samples: np.ndarray,
        features: np.ndarray,
        frames: int,
        *,
        prompt_text: str = "",
        beam_size: int,
        patience: float = 1.0,
        repetition_penalty: float = 1.0,
        max_length: int = PARTIAL_MAX_TOKENS,
        scores: bool = False,
    ) -> DecodedSegment:
        """One beam search over ``features`` padded to ``frames`` (no timestamps, so one
        segment, as faster-whisper's ``without_timestamps`` decode of a window). Without
        ``scores`` the segment's ``avg_logprob`` is 0 (only the loop/no-speech guards act)."""
        from faster_whisper.audio import pad_or_trim

        encoded = self._encode_and_keep(pad_or_trim(features, frames))
        tokenizer = self._tokenizer_zh()
        prompt: list[int] = []
        if prompt_text:  # as faster-whisper: previous-text tokens before the task tokens
            prompt = [tokenizer.sot_prev, *tokenizer.encode(" " + prompt_text)[-223:]]
        prompt += [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        result = self._model.model.generate(
            encoded,
            [prompt],
            beam_size=beam_size,
            patience=patience,
            repetition_penalty=repetition_penalty,
            max_length=max_length,
            return_scores=scores,
            return_no_speech_prob=True,
            suppress_blank=self.config.whisper.suppress_blank,
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        # faster-whisper's average log-probability: the length-normalised score (length
        # penalty 1) times the length, over the tokens plus the end token
        avg = float(result.scores[0]) * len(tokens) / (len(tokens) + 1) if scores else 0.0
        return DecodedSegment(
            start=0.0,
            end=len(samples) / ASR_SAMPLE_RATE,
            text=to_simplified(tokenizer.decode(tokens)),
            avg_logprob=avg,
            no_speech_prob=float(result.no_speech_prob),
        )

    def _decode_window(
        self, samples: np.ndarray, hotwords: str, window_s: float
    ) -> DecodedSegment | None:
        """A final over a short encoder window (the final's beam, patience, repetition
        penalty and prompt); None when the window would be the full 30 s anyway."""
        wc = self.config.whisper
        fit = self._short_window(samples, window_s)
        if fit is None or fit[1] >= self._model.feature_extractor.nb_max_frames:
            return None
        return self._window_segment(
            samples,
            *fit,
            prompt_text=" ".join(p for p in (wc.initial_prompt, hotwords) if p).strip(),
            beam_size=wc.beam_size,
            patience=wc.patience,
            repetition_penalty=wc.repetition_penalty,
            max_length=PARTIAL_MAX_TOKENS * 2,
            scores=True,
        )

    def _decode(self, samples: np.ndarray, hotwords: str, window_s: float = 0.0) -> Transcript:
        wc = self.config.whisper
        if wc.target_rms_dbfs:
            rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
            if rms > 1e-5:
                gain = 10 ** (wc.target_rms_dbfs / 20) / rms
                samples = np.clip(samples * gain, -1.0, 1.0).astype(np.float32)
        temps = wc.temperatures or (0.0,)
        windows: list[np.ndarray] = []
        self._capture.sink = windows
        short = None
        try:
            if window_s > 0 and len(samples) >= MIN_DECODE_S * ASR_SAMPLE_RATE:
                short = self._decode_window(samples, hotwords, window_s)
            decoded = [short] if short is not None else self._decode_full(samples, hotwords, temps)
        finally:
            self._capture.sink = None
        encoder = pool_encoder_states(windows, samples, len(samples))
        prompt = " ".join(p for p in (wc.initial_prompt, hotwords) if p)
        kept, flags = guard_segments(decoded, self.config.guard, prompt=prompt)
        if flags:
            log.info("whisper guard: %s", ", ".join(flags))
        if short is not None:
            flags = (*flags, FLAG_BUSY_WINDOW)
        return Transcript(
            text="".join(s.text for s in kept).strip(),
            segments=tuple(Segment(s.start, s.end, s.text) for s in kept),
            language=wc.language,
            flags=flags,
            encoder=encoder,
        )

    def _decode_full(
        self, samples: np.ndarray, hotwords: str, temps: tuple[float, ...]
    ) -> list[DecodedSegment]:
        """faster-whisper's transcribe: 30 s windows, the recipe's settings."""
        wc = self.config.whisper
        segments, _info = self._model.transcribe(
            samples,
            language=wc.language,
            beam_size=wc.beam_size,
            patience=wc.patience,
            repetition_penalty=wc.repetition_penalty,
            temperature=list(temps) if len(temps) > 1 else temps[0],
            without_timestamps=wc.without_timestamps,
            condition_on_previous_text=False,
            initial_prompt=wc.initial_prompt or None,
            hotwords=hotwords or None,
            suppress_blank=wc.suppress_blank,
            compression_ratio_threshold=self.config.guard.compression_ratio_threshold,
            log_prob_threshold=self.config.guard.logprob_threshold,
            no_speech_threshold=self.config.guard.no_speech_threshold,
        )
        return [
            DecodedSegment(
                start=float(s.start),
                end=float(s.end),
                text=to_simplified(s.text),
                avg_logprob=float(s.avg_logprob),
                no_speech_prob=float(s.no_speech_prob),
            )
            for s in segments
        ]

    def transcribe(self, audio: Audio, *, itn: bool = False, hotwords: str = "") -> Transcript:
        """Recognise a whole recording (any sample rate).

        The speech detector (Silero, the streams' endpointer) looks at the file first: with
        less than ``asr.endpoint.min_speech_ms`` of speech the result is empty text with flag
        ``no_speech`` and the decoder never runs. Otherwise the whole file is decoded in one
        pass (Whisper does best with the whole context; see docs/asr.md).
        """
        samples = audio.resample(ASR_SAMPLE_RATE).samples
        if self.config.whisper.speech_gate and not self.has_speech(samples):
            return Transcript("", language=self.config.whisper.language, flags=(FLAG_NO_SPEECH,))
        pad = int(self.config.whisper.tail_pad_ms * ASR_SAMPLE_RATE / 1000)
        if pad:
            samples = np.concatenate([samples, np.zeros(pad, np.float32)])
        raw = self.decode_samples(samples, hotwords=hotwords)
        return finish_transcript(raw, itn=itn or self.config.itn, punctuate=self._punctuate)

    def decode_partial(self, samples: np.ndarray) -> str:
        """Provisional text for an open utterance, cheaply (Simplified, guarded, no hotwords).

        The encoder sees the utterance plus ``whisper.partial_margin_s`` of padding (at least
        ``whisper.partial_window_s``) instead of a 30 s window, and decoding uses
        ``whisper.partial_beam_size``: several times less work than a final, so live text does
        not eat the CPU the finals need. Less accurate than a final, which re-decodes.
        """
        wc = self.config.whisper
        if wc.partial_window_s <= 0 or len(samples) < MIN_DECODE_S * ASR_SAMPLE_RATE:
            return self.decode_samples(samples).text if wc.partial_window_s <= 0 else ""
        fit = self._short_window(samples, wc.partial_window_s)
        if fit is None:  # a long utterance: the full recipe
            return self.decode_samples(samples).text
        segment = self._window_segment(samples, *fit, beam_size=max(1, wc.partial_beam_size))
        kept, _flags = guard_segments([segment], self.config.guard)
        return "".join(s.text for s in kept).strip()

    def _tokenizer_zh(self) -> Any:
        """faster-whisper's tokenizer for ``whisper.language`` (made once; read-only after)."""
        tokenizer = getattr(self, "_tokenizer", None)
        if tokenizer is None:
            from faster_whisper.tokenizer import Tokenizer

            tokenizer = Tokenizer(
                self._model.hf_tokenizer,
                self._model.model.is_multilingual,
                task="transcribe",
                language=self.config.whisper.language,
            )
            self._tokenizer = tokenizer
        return tokenizer

    def transcribe_batch(
        self, audios: Sequence[Audio], *, itn: bool = False, hotwords: str = ""
    ) -> list[Transcript]:
        """Recognise several recordings, decoding those of ≤ 30 s together in batches.

        The same recipe as :meth:`transcribe` (speech gate, decoder settings, guards, hotwords,
        text pipeline): recordings of one 30 s window each go through one encoder call and one
        beam search with a batch dimension (``asr.whisper.batch_size`` at a time); longer ones,
        and settings the batched decode does not cover (temperature fallback, loudness
        normalisation, tail padding, ``hotword_mode = "always"``), are decoded one by one.
        """
        wc = self.config.whisper
        words = merge_hotwords(self.config.hotwords, hotwords)
        single = (
            len(wc.temperatures) > 1
            or wc.target_rms_dbfs
            or wc.tail_pad_ms
            or (words and self.config.hotword_mode == "always")
        )
        results: list[Transcript | None] = [None] * len(audios)
        todo: list[tuple[int, np.ndarray]] = []
        for i, audio in enumerate(audios):
            samples = audio.resample(ASR_SAMPLE_RATE).samples
            if single or len(samples) > BATCH_MAX_S * ASR_SAMPLE_RATE:
                results[i] = self.transcribe(audio, itn=itn, hotwords=hotwords)
            elif wc.speech_gate and not self.has_speech(samples):
                results[i] = Transcript("", language=wc.language, flags=(FLAG_NO_SPEECH,))
            elif len(samples) < MIN_DECODE_S * ASR_SAMPLE_RATE:
                results[i] = self.transcribe(audio, itn=itn, hotwords=hotwords)
            else:
                todo.append((i, samples))
        size = max(1, wc.batch_size)
        for k in range(0, len(todo), size):
            chunk = todo[k : k + size]
            for (i, samples), raw in zip(
                chunk, self._decode_batch([s for _, s in chunk]), strict=True
            ):
                if words and hotwords_heard(raw.text, words):
                    raw = self._decode(samples, words)
                results[i] = finish_transcript(
                    raw, itn=itn or self.config.itn, punctuate=self._punctuate
                )
        return [r for r in results if r is not None]

    def _decode_batch(self, batch: list[np.ndarray]) -> list[Transcript]:
        """One encoder call and one beam search over ≤ 30 s recordings (as ``_decode`` would)."""
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.transcribe import get_suppressed_tokens

        wc, model = self.config.whisper, self._model
        # as faster-whisper's transcribe: the last mel frame is not content, the window is
        # zero-padded to 30 s
        feats = [model.feature_extractor(s)[:, :-1] for s in batch]
        frames = [f.shape[-1] for f in feats]
        stacked = np.stack([pad_or_trim(f) for f in feats]).astype(np.float32)
        encoded = self._encode(stacked)
        tokenizer = self._tokenizer_zh()
        previous = tokenizer.encode(" " + wc.initial_prompt.strip()) if wc.initial_prompt else []
        prompt = model.get_prompt(tokenizer, previous, without_timestamps=wc.without_timestamps)
        results = model.model.generate(
            encoded,
            [list(prompt) for _ in batch],
            beam_size=wc.beam_size,
            patience=wc.patience,
            length_penalty=1,
            repetition_penalty=wc.repetition_penalty,
            no_repeat_ngram_size=0,
            max_length=model.max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=wc.suppress_blank,
            suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
            max_initial_timestamp_index=int(round(1.0 / model.time_precision)),
        )
        states = np.asarray(encoded)
        guard = self.config.guard
        out = []
        for samples, n_frames, result, state in zip(batch, frames, results, states, strict=True):
            tokens = result.sequences_ids[0]
            avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
            text = tokenizer.decode([t for t in tokens if t < tokenizer.eot])
            decoded = []
            # faster-whisper skips a window it thinks silent unless the text is likely enough
            silent = (
                result.no_speech_prob > guard.no_speech_threshold
                and avg_logprob <= guard.logprob_threshold
            )
            if text.strip() and not silent:
                decoded.append(
                    DecodedSegment(
                        start=0.0,
                        end=n_frames * model.feature_extractor.time_per_frame,
                        text=to_simplified(text),
                        avg_logprob=float(avg_logprob),
                        no_speech_prob=float(result.no_speech_prob),
                    )
                )
            kept, flags = guard_segments(decoded, guard, prompt=wc.initial_prompt)
            out.append(
                Transcript(
                    text="".join(s.text for s in kept).strip(),
                    segments=tuple(Segment(s.start, s.end, s.text) for s in kept),
                    language=wc.language,
                    flags=flags,
                    encoder=pool_encoder_states([state], samples, len(samples)),
                )
            )
        return out

    def has_speech(self, samples: np.ndarray) -> bool:
        """Whether the endpointer's speech detector opens an utterance in these 16 kHz samples."""
        endpointer = Endpointer(self.config.endpoint)
        events = endpointer.feed(samples) + endpointer.flush()
        return any(isinstance(ev, Onset) for ev in events)

    # ---- streaming -----------------------------------------------------------------------

    def create_stream(
        self, *, itn: bool | None = None, hotwords: str = "", profile: str = "dialogue"
    ) -> VadRecognizerStream:
        """A new VAD-endpointed stream re-decoding the open utterance for partials.

        ``itn`` (default ``asr.itn``) and ``hotwords`` apply to this stream's final results.
        ``profile``: ``"dialogue"`` endpoints turns with ``asr.endpoint``; ``"transcription"``
        (``/v1/asr``) uses ``asr.transcription_endpoint`` (finals at long pauses only).
        """
        endpoint = self.config.endpoint_for(profile)
        interval = int(endpoint.partial_interval_ms * ASR_SAMPLE_RATE / 1000)
        use_itn = self.config.itn if itn is None else itn
        return VadRecognizerStream(
            lambda: _WhisperUtterance(self, interval, hotwords, endpoint),
            endpoint,
            postprocess=lambda t: finish_transcript(t, itn=use_itn, punctuate=self._punctuate),
        )


def merge_hotwords(*lists: str) -> str:
    """Space-separated hotword lists joined, duplicates dropped, order kept."""
    return " ".join(dict.fromkeys(w for words in lists for w in words.split()))


class _WhisperUtterance:
    """Rate-limited decoding of one open utterance: cheap partials, a prefetched final.

    A partial is due after ``partial_interval_ms`` of new audio, or after
    ``PARTIAL_BUSY_FACTOR`` × the last partial's decode time when that is longer, so on a
    slow or busy CPU partial decoding never takes more than ~2/3 of real time and cannot
    pile up in front of the final result. Partials take the recognizer's cheap path
    (:meth:`WhisperRecognizer.decode_partial`: a short encoder window, greedy).

    Prefetch: once ``prefetch_silence_ms`` of trailing silence follow speech that the last
    decode has not seen, the utterance is decoded at once with the full recipe; if the
    endpoint then comes with no new speech, the final result reuses that decode instead of
    running the model again, so end-of-speech → final costs max(hangover, prefetch + decode),
    not hangover + decode. While the silence is shorter than that, no partial is started
    (it would delay the prefetch). :meth:`looks_complete` tells the stream whether the
    prefetched text reads as a finished sentence, so it may end the utterance early.
    """

    def __init__(
        self,
        recognizer: WhisperRecognizer,
        interval_samples: int,
        hotwords: str = "",
        endpoint: EndpointConfig | None = None,
    ) -> None:
        self._rec = recognizer
        self._hotwords = hotwords
        self._interval = max(1, interval_samples)
        ep = recognizer.config.endpoint if endpoint is None else endpoint
        self._prefetch = int(ep.prefetch_silence_ms * ASR_SAMPLE_RATE / 1000)
        self._cheap = ep.cheap_partials
        self._busy_window = ep.busy_window
        self._decoded_at = 0  # utterance samples the last decode (partial or prefetch) saw
        self._voiced_end = 0
        self._decoded: Transcript | None = None  # the last full-recipe (prefetch) decode
        self._prefetched_at = -1  # samples that decode covered
        self._text = ""  # the last provisional text
        self._last_cost = 0  # samples of real time the last partial decode took

    def partial_due(self, n_samples: int, trailing_silence: int = 0) -> bool:
        self._voiced_end = n_samples - trailing_silence
        if n_samples < MIN_PARTIAL_S * ASR_SAMPLE_RATE:
            return False
        if self._prefetch and trailing_silence >= self._prefetch:
            return self.prefetch_span(n_samples, trailing_silence) is not None
        if self._prefetch and trailing_silence > 0:
            return False  # speech may be ending: keep the worker free for the prefetch
        spacing = self._interval
        if self._text:
            spacing = max(spacing, int(PARTIAL_BUSY_FACTOR * self._last_cost))
        return n_samples - self._decoded_at >= spacing

    def partial(self, samples: np.ndarray) -> str:
        start = time.perf_counter()
        if self._prefetch and len(samples) - self._voiced_end >= self._prefetch:
            # speech may be over: decode exactly what the final would decode, fully
            samples = samples[: self._voiced_end + self._prefetch]
            self._decoded = self._rec.decode_samples(
                samples, hotwords=self._hotwords, window_s=self._final_window_s()
            )
            self._prefetched_at = len(samples)
            text = finish_transcript(self._decoded).text  # spacing/punctuation as finals
        else:
            if self._cheap:
                raw = Transcript(self._rec.decode_partial(samples))
            else:
                raw = self._rec.decode_samples(samples, hotwords=self._hotwords)
            text = finish_transcript(raw).text
            self._last_cost = int((time.perf_counter() - start) * ASR_SAMPLE_RATE)
        self._decoded_at = len(samples)
        self._text = text
        return text

    def prefetch_span(self, n_samples: int, trailing_silence: int) -> int | None:
        """Utterance samples the next decode would prefetch (None: it would not prefetch)."""
        voiced_end = n_samples - trailing_silence
        if not self._prefetch or trailing_silence < self._prefetch:
            return None
        if n_samples < MIN_PARTIAL_S * ASR_SAMPLE_RATE:
            return None
        span = voiced_end + self._prefetch
        return None if self._prefetched_at == span else span

    @property
    def prefetched_voiced_end(self) -> int:
        """Utterance samples up to the last voiced frame the prefetch decoded (-1: none)."""
        if self._decoded is None or self._prefetched_at < 0:
            return -1
        return self._prefetched_at - self._prefetch

    def looks_complete(self) -> bool:
        """Whether the prefetched decode reads as a finished sentence."""
        return self._decoded is not None and sentence_looks_complete(self._decoded.text)

    def final(self, samples: np.ndarray, speech_samples: int | None = None) -> Transcript:
        if speech_samples is not None and self._prefetch:
            # the utterance as decoded: onset (pre-roll included) to the last voiced frame
            # plus prefetch_silence_ms, whether it arrives live or from a file
            samples = samples[: speech_samples + self._prefetch]
        if (
            self._decoded is not None
            and abs(self._prefetched_at - len(samples)) <= SAME_AUDIO_SLACK
        ):
            return self._decoded  # the prefetch already decoded exactly this audio
        return self._rec.decode_samples(
            samples, hotwords=self._hotwords, window_s=self._final_window_s()
        )

    def _final_window_s(self) -> float:
        """``final_window_s`` when set; else ``busy_window_s`` while the recognizer is busy
        with other finals; else 0 (the full window). Dialogue streams only."""
        wc = self._rec.config.whisper
        if not self._busy_window:
            return 0.0
        if wc.final_window_s > 0:
            return wc.final_window_s
        busy = self._rec.busy
        return wc.busy_window_s if busy is not None and busy() else 0.0
