"""KAN-TTS (language PinYin) symbol inventories and the ``{sy$tone$...}`` token encoder.

Index order is the embedding row order of the checkpoints: language entries, then the
specials ``_`` (pad), ``~`` (eos) and ``@[MASK]``. Unlike the reference encoder, an unknown
symbol is an error naming it, never a silent drop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PAD, EOS, MASK = "_", "~", "@[MASK]"
SPECIALS = (PAD, EOS, MASK)

# PhoneSet.xml phones in document order (Mandarin *_c, pseudo-initials, English, erhua, pau)
PHONES: tuple[str, ...] = tuple(
    [
        "a_c",
        "ai_c",
        "an_c",
        "ang_c",
        "ao_c",
        "b_c",
        "c_c",
        "ch_c",
        "d_c",
        "e_c",
        "ei_c",
        "en_c",
        "eng_c",
        "er_c",
        "f_c",
        "g_c",
        "h_c",
        "i_c",
        "ia_c",
        "ian_c",
        "iang_c",
        "iao_c",
        "ie_c",
        "ih_c",
        "ii_c",
        "in_c",
        "ing_c",
        "io_c",
        "iong_c",
        "iou_c",
        "j_c",
        "k_c",
        "l_c",
        "m_c",
        "n_c",
        "o_c",
        "ong_c",
        "ou_c",
        "p_c",
        "q_c",
        "r_c",
        "s_c",
        "sh_c",
        "t_c",
        "u_c",
        "ua_c",
        "uai_c",
        "uan_c",
        "uang_c",
        "uei_c",
        "uen_c",
        "ueng_c",
        "uo_c",
        "v_c",
        "van_c",
        "ve_c",
        "vn_c",
        "xx_c",
        "z_c",
        "zh_c",
        "w_c",
        "y_c",
        "ga",
        "ge",
        "go",
        "aa",
        "ae",
        "ah",
        "ao",
        "aw",
        "ay",
        "b",
        "ch",
        "d",
        "dh",
        "eh",
        "er",
        "ey",
        "f",
        "g",
        "hh",
        "ih",
        "iy",
        "jh",
        "k",
        "l",
        "m",
        "n",
        "ng",
        "ow",
        "oy",
        "p",
        "r",
        "s",
        "sh",
        "t",
        "th",
        "uh",
        "uw",
        "v",
        "w",
        "y",
        "z",
        "zh",
        "air_c",
        "angr_c",
        "anr_c",
        "aor_c",
        "ar_c",
        "eir_c",
        "engr_c",
        "enr_c",
        "iangr_c",
        "ianr_c",
        "iaor_c",
        "iar_c",
        "ier_c",
        "ihr_c",
        "iir_c",
        "ingr_c",
        "inr_c",
        "iongr_c",
        "iour_c",
        "ir_c",
        "ongr_c",
        "or_c",
        "our_c",
        "uair_c",
        "uangr_c",
        "uanr_c",
        "uar_c",
        "ueir_c",
        "uenr_c",
        "uor_c",
        "ur_c",
        "vanr_c",
        "ver_c",
        "vnr_c",
        "vr_c",
        "pau",
    ]
)
BREAKS = ("#1", "#2", "#3", "#4")
SY = tuple("@" + p for p in PHONES + BREAKS) + SPECIALS
TONES = ("tone1", "tone_none", "tone4", "tone2", "tone3", "tone5", "tone0") + SPECIALS
SYLLABLE_FLAGS = ("s_begin", "s_end", "s_none", "s_both", "s_middle") + SPECIALS
WORD_SEGMENTS = ("word_begin", "word_end", "word_middle", "word_both", "word_none") + SPECIALS
EMOTIONS = [
    "emotion_none",
    "emotion_neutral",
    "emotion_angry",
    "emotion_disgust",
    "emotion_fear",
    "emotion_happy",
    "emotion_sad",
    "emotion_surprise",
    "emotion_calm",
    "emotion_gentle",
    "emotion_relax",
    "emotion_lyrical",
    "emotion_serious",
    "emotion_disgruntled",
    "emotion_satisfied",
    "emotion_disappointed",
    "emotion_excited",
    "emotion_anxiety",
    "emotion_jealousy",
    "emotion_hate",
    "emotion_pity",
    "emotion_pleasure",
    "emotion_arousal",
    "emotion_dominance",
] + [f"emotion_placeholder{i}" for i in range(1, 10)]
EMO_CATEGORIES = tuple(EMOTIONS) + SPECIALS
FIELDS = ("sy", "tone", "syllable_flag", "word_segment", "emotion", "speaker")


class UnknownSymbolError(ValueError):
    """A token value that has no row in its embedding table (names the field and value)."""


@dataclass(frozen=True)
class EncodedTokens:
    """Index streams of one token line, each ending with the eos index (length N + 1)."""

    sy: np.ndarray
    tone: np.ndarray
    syllable_flag: np.ndarray
    word_segment: np.ndarray
    emotion: np.ndarray
    speaker: np.ndarray

    def stack(self) -> np.ndarray:
        """``[6, N + 1]`` int64 in field order."""
        return np.stack([getattr(self, f) for f in FIELDS]).astype(np.int64)


class LinguisticTables:
    """Symbol -> index tables for one voice (speaker order from its ``speaker_list``)."""

    def __init__(self, speaker_list: Sequence[str] = ("F7",)):
        if not speaker_list:
            raise ValueError("speaker_list is empty")
        self.speakers = tuple(speaker_list) + SPECIALS
        self._lists: dict[str, tuple[str, ...]] = {
            "sy": SY,
            "tone": TONES,
            "syllable_flag": SYLLABLE_FLAGS,
            "word_segment": WORD_SEGMENTS,
            "emotion": EMO_CATEGORIES,
            "speaker": self.speakers,
        }
        self._index = {f: {s: i for i, s in enumerate(lst)} for f, lst in self._lists.items()}

    def sizes(self, has_mask: bool = True) -> dict[str, int]:
        """Table sizes (rows) as KAN-TTS builds them; one fewer each without the mask row."""
        return {f: len(lst) - (0 if has_mask else 1) for f, lst in self._lists.items()}

    def check_sizes(self, rows: dict[str, int]) -> None:
        """Raise ValueError unless checkpoint table ``rows`` fit these inventories (± mask row)."""
        for field, n in rows.items():
            full = len(self._lists[field])
            if n not in (full, full - 1):
                raise ValueError(
                    f"checkpoint {field} table has {n} rows; this inventory needs {full} "
                    f"(or {full - 1} without the mask row)"
                )

    def index(self, field: str, value: str) -> int:
        """Row of ``value`` in ``field``'s table; UnknownSymbolError if absent."""
        key = "@" + value if field == "sy" else value
        try:
            return self._index[field][key]
        except KeyError:
            raise UnknownSymbolError(f"unknown {field} symbol {value!r}") from None

    def encode(self, line: str) -> EncodedTokens:
        """Encode ``{sy$tone$syllable_flag$word_segment$emotion$speaker} ...`` (space separated)."""
        streams: list[list[int]] = [[] for _ in FIELDS]
        for token in line.split():
            if not (token.startswith("{") and token.endswith("}")):
                raise UnknownSymbolError(f"malformed token {token!r} (expected {{...}})")
            parts = token[1:-1].split("$")
            if len(parts) != len(FIELDS):
                raise UnknownSymbolError(f"token {token!r} has {len(parts)} fields, expected 6")
            if parts[0] in (PAD, EOS):
                raise UnknownSymbolError(f"token {token!r} uses a reserved sy symbol")
            for stream, field, value in zip(streams, FIELDS, parts, strict=True):
                stream.append(self.index(field, value))
        if not streams[0]:
            raise UnknownSymbolError("empty token line")
        eos = [self._index[f][EOS] for f in FIELDS]
        arrays = [np.array(s + [e], dtype=np.int32) for s, e in zip(streams, eos, strict=True)]
        return EncodedTokens(*arrays)
