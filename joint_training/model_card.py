"""The model card (README.md) written beside every bridge checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tingshuo.joint_training.config import BridgeTrainConfig


def _f(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def write_model_card(path: Path, m: dict[str, Any], cfg: BridgeTrainConfig) -> None:
    """Write the model card: data and terms, metrics, config, the rebuild command."""
    sp, cross, fused, esc = (
        m["speech"],
        m.get("cross_corpus", {}),
        m.get("fused_casia", {}),
        m["false_escalation"],
    )
    text = m.get("text", {})
    lines = [
        "# tingshuo emotion bridge — model card",
        "",
        "Speech: multinomial logistic regression over the Whisper-base encoder states of the",
        "utterance (mean + std over voiced 20 ms frames, the recognizer's own encoder pass) and",
        "23 prosodic features, z-scored against the same speaker; a prosody-only head for",
        "recognizers without encoder states (Paraformer). Text: char 1–4-gram and jieba word",
        "1–2-gram TF-IDF logistic regressions, an NB-LR over both and a USE sentence-embedding",
        "logistic regression, mixed on a usual_train hold-out and folded into one int8 linear",
        "map over the n-grams plus the USE head, with per-class biases for macro-F1 and a",
        "temperature (text_emotion.json). Fusion: product of the calibrated",
        "distributions with a fitted temperature. Below the confidence threshold the bridge",
        "reports `neutral` with `uncertain: true`.",
        "",
        "## Training data and terms",
        "",
        "| set | what | terms |",
        "|---|---|---|",
        "| CASIA (casia-2spk: 2 speakers, 600 clips) | acted Mandarin emotional speech | research corpus, no licence stated |",
        "| EMO-DB (10 speakers, 454 clips) | acted German emotional speech | free for research |",
        "| SMP2020-EWECT usual + virus train | Weibo posts, 6 emotions | competition data, research use |",
        "| CPED valid_split (when `text_cped`) | TV-series dialogue, 13 → 7 emotions | Apache-2.0 |",
        "",
        "**CASIA, EMO-DB and SMP2020 are research data.** For commercial use, retrain on data",
        "you hold the rights to: put your clips in the same layout (`labels.tsv` with file,",
        "speaker, emotion + `wav/`) and your texts in SMP's `label<TAB>text` form, then run",
        "`tingshuo train bridge --config my.toml --out my-bridge` and set",
        '`dialog.bridge_checkpoint = "my-bridge"`.',
        "",
        "## Metrics (speaker-independent: leave one speaker out)",
        "",
        "| figure | value |",
        "|---|---|",
        f"| speech, CASIA LOSO macro-F1 (6 classes; per speaker {', '.join(_f(sp['loso_macro_f1'][s]) for s in sorted(sp['loso_macro_f1']) if not s.startswith('emodb'))}) | {_f(sp['casia_loso_macro_f1'])} |",
        f"| speech, EMO-DB LOSO macro-F1 (mean over 10 speakers) | {_f(sp['emodb_loso_macro_f1'])} |",
        f"| speech, ECE (all LOSO, after temperature) | {_f(sp['ece_loso'])} |",
        f"| prosody only, CASIA LOSO macro-F1 | {_f(m['prosody_only']['casia_loso_macro_f1'])} |",
        f"| cross-corpus: EMO-DB → CASIA, 5 shared emotions | {_f(cross.get('macro_f1', 'n/a'))} |",
        f"| fused (CASIA LOSO speech × transcript text) macro-F1 / ECE | {_f(fused.get('macro_f1', 'n/a'))} / {_f(fused.get('ece', 'n/a'))} |",
    ]
    for name, r in text.items():
        lines.append(
            f"| text, {name}: macro-F1 (6 SMP classes) / ECE | {_f(r.get('macro_f1_6', r.get('macro_f1')))} / {_f(r.get('ece'))} |"
        )
    lines += [
        f"| confidence threshold (OOF predictions above it right ≥ {cfg.target_precision:.0%}) | {_f(m['min_confidence'])} (coverage {_f(m['coverage_at_threshold'])}) |",
        f"| false escalation, neutral speech, {esc['turns']}-turn sessions | {_f(esc['speech_neutral_sessions'])} (per turn {_f(esc['speech_neutral_turn_rate'])}) |",
        f"| false escalation, neutral SMP2020 posts, {esc['turns']}-turn sessions | {_f(esc.get('text_neutral_sessions', 'n/a'))} (per turn {_f(esc.get('text_neutral_turn_rate', 'n/a'))}) |",
        "",
        "Clips used: "
        + ", ".join(
            f"{c} {n['used']}/{n['in_corpus']}" for c, n in m.get("corpus_clips", {}).items()
        )
        + ".",
        "",
        f"C = {sp['c']:g}, prosody x{sp.get('prosody_scale', 1):g} chosen on the mean per-speaker LOSO macro-F1 over all {len(m['speakers'])} speakers",
        "(`curves_c_sweep.png`). Confusions: `confusion_speech_casia_loso.png`,",
        "`confusion_cross_corpus.png`; calibration: `reliability_speech.png`. All figures in",
        "`metrics.json`; the resolved training config in `config.json`.",
        "",
        "Limits: acted speech from 12 speakers; the per-speaker baseline needs a few turns",
        "(before that the corpus statistics stand in); text was trained on Weibo posts, weaker",
        "on spoken dialogue (see CPED).",
        "",
        "## Rebuild",
        "",
        "    tingshuo train bridge --config joint_training/configs/bridge-default.toml --out DIR",
        "",
        f"({m['train_seconds']:.0f} s for this run with cached speech features; the first run",
        "also makes one Whisper encoder pass per clip, about 0.5–2 s each on two cores.)",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
