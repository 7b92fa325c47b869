"""A customer-service knowledge base in YAML, retrieved through the sentence encoder.

Format (see dialog/data/customer_service_kb.yaml)::

    fallback: 抱歉，这个问题我暂时回答不了……
    threshold: 0.5                     # optional; the config's dialog.kb_threshold wins if set
    slots:
      order_id: {pattern: '(?<!\\d)\\d{8,20}(?!\\d)', ask: 请告诉我您的订单号。}
    intents:
      - name: order_status
        examples: [我的订单到哪了, ...]
        answer: 订单{order_id}已经发货……       # {slot} placeholders
        requires: [order_id]                   # missing → the slot's ``ask`` text

A query is embedded once; the intent whose closest example is most similar (cosine) wins
if that similarity reaches the threshold, otherwise the fallback answer is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from tingshuo.dialog.text_features import SentenceEncoder

DEFAULT_KB = Path(__file__).resolve().parent / "data" / "customer_service_kb.yaml"
FALLBACK_INTENT = "fallback"


class KnowledgeBaseError(ValueError):
    """A knowledge-base file that cannot be used; the message says where."""


@dataclass(frozen=True)
class Slot:
    """A value extracted from the utterance by regex (first group, or the whole match)."""

    name: str
    pattern: re.Pattern[str]
    ask: str = ""

    def extract(self, text: str) -> str | None:
        m = self.pattern.search(text)
        if m is None:
            return None
        return m.group(1) if m.groups() else m.group(0)


@dataclass(frozen=True)
class Intent:
    """One thing customers ask about, with how to answer it."""

    name: str
    examples: tuple[str, ...]
    answer: str
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class KBMatch:
    """The retrieval result for one query."""

    intent: str
    score: float
    answer: str
    slots: dict[str, str] = field(default_factory=dict)
    example: str = ""


class KnowledgeBase:
    """Intents + slots + fallback, with the example utterances embedded once."""

    def __init__(
        self,
        intents: list[Intent],
        slots: list[Slot],
        fallback: str,
        encoder: SentenceEncoder,
        threshold: float = 0.5,
    ) -> None:
        if not intents:
            raise KnowledgeBaseError("a knowledge base needs at least one intent")
        self.intents = intents
        self.slots = {s.name: s for s in slots}
        self.fallback = fallback
        self.threshold = threshold
        self.encoder = encoder
        self._example_intent = [i for i, it in enumerate(intents) for _ in it.examples]
        self._examples = [ex for it in intents for ex in it.examples]
        self._matrix: np.ndarray | None = None

    def _vectors(self) -> np.ndarray:
        if self._matrix is None:
            self._matrix = self.encoder.encode(self._examples)
        return self._matrix

    def extract_slots(self, text: str) -> dict[str, str]:
        """Every slot value found in ``text``.

        Patterns see the text after inverse text normalisation, so an order or phone number
        read digit by digit, or in groups (``二零二四 二零二零 一八八六六``), matches ``\\d{8,20}``
        as one number.
        """
        from tingshuo.asr.textproc import inverse_normalize

        text = inverse_normalize(text)
        found = {}
        for name, slot in self.slots.items():
            value = slot.extract(text)
            if value is not None:
                found[name] = value
        return found

    def scores(self, text: str) -> dict[str, float]:
        """Best cosine similarity of ``text`` to each intent's examples."""
        sims = self._vectors() @ self.encoder.encode([text])[0]
        best: dict[str, float] = {}
        for idx, s in zip(self._example_intent, sims, strict=True):
            name = self.intents[idx].name
            best[name] = max(best.get(name, -1.0), float(s))
        return best

    def match(self, text: str, slots: dict[str, str] | None = None) -> KBMatch:
        """The answer to ``text``: the best intent above the threshold, else the fallback.

        ``slots`` are values remembered from earlier turns; values in ``text`` win.
        """
        values = {**(slots or {}), **self.extract_slots(text)}
        if not text.strip():
            return KBMatch(FALLBACK_INTENT, 0.0, self.fallback, values)
        sims = self._vectors() @ self.encoder.encode([text])[0]
        best = int(np.argmax(sims))
        score = float(sims[best])
        if score < self.threshold:
            return KBMatch(FALLBACK_INTENT, score, self.fallback, values)
        intent = self.intents[self._example_intent[best]]
        missing = [s for s in intent.requires if s not in values]
        if missing:
            ask = self.slots[missing[0]].ask or f"请提供{missing[0]}。"
            return KBMatch(intent.name, score, ask, values, self._examples[best])
        answer = intent.answer.format_map({k: values.get(k, "") for k in self.slots})
        return KBMatch(intent.name, score, answer, values, self._examples[best])

    @classmethod
    def from_mapping(
        cls,
        data: Any,
        encoder: SentenceEncoder,
        where: str = "knowledge base",
        threshold: float | None = None,
    ) -> KnowledgeBase:
        """Build from the parsed YAML mapping; raise :class:`KnowledgeBaseError` naming the entry."""
        if not isinstance(data, dict):
            raise KnowledgeBaseError(f"{where}: expected a mapping at the top level")
        slots = []
        for name, spec in (data.get("slots") or {}).items():
            if not isinstance(spec, dict) or "pattern" not in spec:
                raise KnowledgeBaseError(f"{where}: slot {name!r} needs a 'pattern'")
            try:
                pattern = re.compile(str(spec["pattern"]))
            except re.error as exc:
                raise KnowledgeBaseError(f"{where}: slot {name!r}: bad regex: {exc}") from None
            slots.append(Slot(str(name), pattern, str(spec.get("ask", ""))))
        slot_names = {s.name for s in slots}
        intents = []
        for i, spec in enumerate(data.get("intents") or []):
            if not isinstance(spec, dict):
                raise KnowledgeBaseError(f"{where}: intents[{i}] must be a mapping")
            name = spec.get("name")
            examples = spec.get("examples") or []
            answer = spec.get("answer")
            if not name or not answer or not examples:
                raise KnowledgeBaseError(f"{where}: intents[{i}] needs name, examples and answer")
            requires = tuple(str(s) for s in spec.get("requires") or ())
            unknown = [s for s in requires if s not in slot_names]
            unknown += [m for m in re.findall(r"\{(\w+)\}", str(answer)) if m not in slot_names]
            if unknown:
                raise KnowledgeBaseError(
                    f"{where}: intent {name!r} uses undefined slot(s) {unknown}"
                )
            intents.append(
                Intent(str(name), tuple(str(e) for e in examples), str(answer), requires)
            )
        names = [it.name for it in intents]
        if len(set(names)) != len(names):
            raise KnowledgeBaseError(f"{where}: duplicate intent names")
        fallback = str(data.get("fallback") or "抱歉，我没有理解您的问题，可以换个说法吗？")
        thr = threshold if threshold is not None else float(data.get("threshold", 0.5))
        return cls(intents, slots, fallback, encoder, thr)

    @staticmethod
    def hotwords_of(path: str | Path | None) -> list[str]:
        """The YAML's ``hotwords`` list (product names, service terms) for the recognizer.

        Reads only that key (no encoder is loaded); a file without one gives ``[]``.
        """
        p = Path(path).expanduser() if path else DEFAULT_KB
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise KnowledgeBaseError(f"knowledge base not found: {p}") from None
        words = (data or {}).get("hotwords") or []
        if not isinstance(words, list):
            raise KnowledgeBaseError(f"{p}: hotwords must be a list of strings")
        return [str(w).strip() for w in words if str(w).strip()]

    @classmethod
    def from_file(
        cls, path: str | Path | None, encoder: SentenceEncoder, threshold: float | None = None
    ) -> KnowledgeBase:
        """Load a YAML knowledge base (default: the packaged customer-service example)."""
        p = Path(path).expanduser() if path else DEFAULT_KB
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise KnowledgeBaseError(f"knowledge base not found: {p}") from None
        except yaml.YAMLError as exc:
            raise KnowledgeBaseError(f"{p}: invalid YAML: {exc}") from None
        return cls.from_mapping(data, encoder, str(p), threshold)
