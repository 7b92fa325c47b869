"""Load voices from a ModelScope Sambert-HifiGan model directory.

Layout (modelscope ``SambertHifigan`` / ``Voice``)::

    <model_dir>/voices/voices.json                      {"voices": ["zhitian_emo", ...]}
    <model_dir>/voices/<v>/audio_config.yaml            sampling_rate, hop_length
    <model_dir>/voices/<v>/am/config.yaml               KAN-TTS sambert config + linguistic_unit
    <model_dir>/voices/<v>/am/ckpt/checkpoint_<step>.pth   ['model'] = acoustic state_dict
    <model_dir>/voices/<v>/voc/config.yaml              KAN-TTS hifigan config
    <model_dir>/voices/<v>/voc/ckpt/checkpoint_<step>.pth  ['model']['generator']

The highest step is loaded. ``model_dir`` is a local path, or a ModelScope model id resolved
from the local ModelScope cache (``local_files_only``, never the network).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from tingshuo.core.errors import ModelNotFoundError
from tingshuo.tts.sambert.acoustic_model import SambertModel
from tingshuo.tts.sambert.dims import HifiganDims, SambertDims, TableSizes
from tingshuo.tts.sambert.hifigan import HifiganGenerator, fold_weight_norm
from tingshuo.tts.sambert.symbols import LinguisticTables

log = logging.getLogger(__name__)

LFEAT_TYPES = "sy,tone,syllable_flag,word_segment,emo_category,speaker_category"
COMPUTED_KEYS = (
    "text_encoder.ling_enc.position_enc.position_enc",
    "variance_adaptor.dur_position_encoder.inv_timescales",
)
_HOW_TO_GET = (
    "point tts.sambert.model_dir (or --model-dir) at a ModelScope Sambert-HifiGan directory, "
    "e.g. a local copy of iic/speech_sambert-hifigan_tts_zh-cn_16k"
)


class ModelDirError(ModelNotFoundError, ValueError):
    """A model directory whose contents are inconsistent (names the file and the problem).

    A ModelNotFoundError too: callers that report missing models report this the same way.
    """


class CheckpointMismatchError(ModelDirError):
    """A checkpoint whose tensors do not fit the model its config describes."""


def resolve_model_dir(spec: str) -> Path:
    """A local directory, or a ModelScope id found in the local ModelScope cache.

    Raises ModelNotFoundError naming what is missing and how to get it.
    """
    if not spec:
        raise ModelNotFoundError(f"no Sambert model directory configured; {_HOW_TO_GET}")
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ModelNotFoundError(f"Sambert model_dir {path} is not a directory")
    looks_like_id = spec.count("/") == 1 and not spec.startswith((".", "/", "~"))
    if looks_like_id and importlib.util.find_spec("modelscope") is not None:
        from modelscope.hub.snapshot_download import snapshot_download

        try:
            return Path(snapshot_download(spec, local_files_only=True))
        except Exception as exc:  # modelscope raises various types for a cache miss
            raise ModelNotFoundError(
                f"ModelScope model {spec!r} is not in the local ModelScope cache ({exc}); "
                f"download it once with modelscope, or {_HOW_TO_GET}"
            ) from exc
    raise ModelNotFoundError(f"Sambert model directory {spec!r} does not exist; {_HOW_TO_GET}")


def _require(path: Path) -> Path:
    if not path.is_file():
        raise ModelNotFoundError(f"missing file {path} in the Sambert model directory")
    return path


def _yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(_require(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ModelDirError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelDirError(f"{path} does not hold a YAML mapping")
    return data


def latest_checkpoint(ckpt_dir: Path) -> Path:
    """``checkpoint_<step>.pth`` with the highest step (modelscope's ``scan_ckpt`` rule)."""
    if not ckpt_dir.is_dir():
        raise ModelNotFoundError(f"missing checkpoint directory {ckpt_dir}")
    found: list[tuple[int, Path]] = []
    for p in ckpt_dir.iterdir():
        name = p.name
        if name.startswith("checkpoint") and name.endswith(".pth") and len(name) > 15:
            try:
                found.append((int(name.split(".")[0].split("_")[-1]), p))
            except ValueError:
                continue
    if not found:
        raise ModelNotFoundError(f"no checkpoint_<step>.pth in {ckpt_dir}")
    return max(found)[1]


def load_checkpoint(path: Path, trust_pickle: bool = False) -> dict[str, Any]:
    """``torch.load`` restricted to tensors and plain containers unless ``trust_pickle``."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except pickle.UnpicklingError as exc:
        raise ModelDirError(
            f"{path} holds objects other than tensors; if you trust this file, set "
            f"tts.sambert.trust_pickle = true to load it ({exc})"
        ) from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise ModelDirError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelDirError(f"{path} does not hold a dict")
    return data


def check_state_dict(model: torch.nn.Module, state: dict[str, Any], source: Path) -> None:
    """CheckpointMismatchError naming every missing, unexpected or mis-shaped tensor."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = []
    for key, shape in expected.items():
        if key not in state:
            problems.append(f"missing tensor {key} (expected shape {list(shape)})")
        elif tuple(state[key].shape) != shape:
            problems.append(
                f"tensor {key}: checkpoint shape {list(state[key].shape)}, expected {list(shape)}"
            )
    problems += [f"unexpected tensor {k}" for k in state if k not in expected]
    if problems:
        shown = "; ".join(problems[:8]) + (
            f"; ... ({len(problems)} problems)" if len(problems) > 8 else ""
        )
        raise CheckpointMismatchError(f"{source}: {shown}")


@dataclass
class LoadedVoice:
    """One voice ready to run: acoustic model, vocoder, symbol tables and audio constants."""

    name: str
    acoustic: SambertModel
    vocoder: HifiganGenerator
    tables: LinguisticTables
    speaker: str
    sample_rate: int
    hop_length: int
    am_checkpoint: Path
    voc_checkpoint: Path


def _acoustic_state(ckpt: dict[str, Any], path: Path) -> dict[str, torch.Tensor]:
    state = ckpt.get("model", ckpt if "text_encoder.sy_emb.weight" in ckpt else None)
    if not isinstance(state, dict):
        raise ModelDirError(f"{path} has no 'model' state_dict")
    return dict(state)


def _vocoder_state(ckpt: dict[str, Any], path: Path) -> dict[str, torch.Tensor]:
    model = ckpt.get("model")
    state = model.get("generator") if isinstance(model, dict) else None
    if not isinstance(state, dict):
        raise ModelDirError(f"{path} has no ['model']['generator'] state_dict")
    return dict(state)


class ModelDir:
    """A ModelScope Sambert-HifiGan directory: its voice list and per-voice loading."""

    def __init__(self, root: Path, trust_pickle: bool = False):
        self.root = root
        self.trust_pickle = trust_pickle
        voices_json = _require(root / "voices" / "voices.json")
        try:
            voices = json.loads(voices_json.read_text(encoding="utf-8")).get("voices")
        except (json.JSONDecodeError, AttributeError) as exc:
            raise ModelDirError(f"{voices_json} is not a {{'voices': [...]}} JSON object") from exc
        if (
            not isinstance(voices, list)
            or not voices
            or not all(isinstance(v, str) for v in voices)
        ):
            raise ModelDirError(f"{voices_json} lists no voices")
        self.voices: list[str] = voices

    @classmethod
    def open(cls, spec: str, trust_pickle: bool = False) -> ModelDir:
        """Resolve ``spec`` (path or ModelScope id) and read its voice list."""
        return cls(resolve_model_dir(spec), trust_pickle)

    def voice_dir(self, name: str) -> Path:
        if name not in self.voices:
            raise ModelDirError(f"voice {name!r} is not in voices.json ({', '.join(self.voices)})")
        return self.root / "voices" / name

    def load_voice(self, name: str) -> LoadedVoice:
        """Build and strictly load the acoustic model and vocoder of ``name``."""
        vdir = self.voice_dir(name)
        audio = _yaml(vdir / "audio_config.yaml").get("audio_config", {})
        sample_rate = int(audio.get("sampling_rate", 0))
        if sample_rate <= 0:
            raise ModelDirError(f"{vdir / 'audio_config.yaml'} has no audio_config.sampling_rate")

        am_cfg = _yaml(vdir / "am" / "config.yaml")
        ling = am_cfg.get("linguistic_unit") or {}
        lfeat = str(ling.get("lfeat_type_list", LFEAT_TYPES)).replace(" ", "")
        if lfeat != LFEAT_TYPES:
            raise ModelDirError(
                f"{vdir / 'am' / 'config.yaml'}: unsupported lfeat_type_list {lfeat!r}"
            )
        if ling.get("language", "PinYin") != "PinYin":
            raise ModelDirError(
                f"{vdir / 'am' / 'config.yaml'}: language {ling['language']!r} is not supported"
            )
        speakers = [s.strip() for s in str(ling.get("speaker_list", "F7")).split(",") if s.strip()]
        tables = LinguisticTables(speakers)
        try:
            params = am_cfg["Model"]["KanTtsSAMBERT"]["params"]
        except (KeyError, TypeError):
            raise ModelDirError(
                f"{vdir / 'am' / 'config.yaml'} has no Model.KanTtsSAMBERT.params"
            ) from None

        am_path = latest_checkpoint(vdir / "am" / "ckpt")
        am_state = _acoustic_state(load_checkpoint(am_path, self.trust_pickle), am_path)
        try:
            sizes = TableSizes.from_state_dict(am_state)
        except KeyError as exc:
            raise CheckpointMismatchError(f"{am_path}: {exc.args[0]}") from None
        try:
            tables.check_sizes(vars(sizes))
            dims = SambertDims.from_params(params, sizes)
        except ValueError as exc:
            raise ModelDirError(f"{am_path}: {exc}") from None
        acoustic = SambertModel(dims)
        trimmed = {
            k: v
            for k, v in am_state.items()
            if not (not dims.MAS and k.startswith("align_attention."))
        }
        check_state_dict(
            acoustic, {k: v for k, v in trimmed.items() if k not in COMPUTED_KEYS}, am_path
        )
        acoustic.load_state_dict(trimmed, strict=True)
        acoustic.eval()

        voc_cfg = _yaml(vdir / "voc" / "config.yaml")
        try:
            vdims = HifiganDims.from_params(voc_cfg["Model"]["Generator"]["params"])
        except (KeyError, TypeError):
            raise ModelDirError(
                f"{vdir / 'voc' / 'config.yaml'} has no Model.Generator.params"
            ) from None
        except ValueError as exc:
            raise ModelDirError(f"{vdir / 'voc' / 'config.yaml'}: {exc}") from None
        hop = int(audio.get("hop_length", vdims.hop_length))
        if hop != vdims.hop_length or vdims.in_channels != dims.num_mels:
            raise ModelDirError(
                f"{vdir}: vocoder (hop {vdims.hop_length}, {vdims.in_channels} mels) does not match "
                f"audio_config hop {hop} / acoustic model {dims.num_mels} mels"
            )
        vocoder = HifiganGenerator(vdims)
        voc_path = latest_checkpoint(vdir / "voc" / "ckpt")
        try:
            voc_state = fold_weight_norm(
                _vocoder_state(load_checkpoint(voc_path, self.trust_pickle), voc_path)
            )
        except KeyError as exc:
            raise CheckpointMismatchError(f"{voc_path}: {exc.args[0]}") from None
        check_state_dict(vocoder, voc_state, voc_path)
        vocoder.load_state_dict(voc_state, strict=True)
        vocoder.eval()
        speaker = "F7" if "F7" in speakers else speakers[0]
        log.info("loaded Sambert voice %s (am %s, voc %s)", name, am_path.name, voc_path.name)
        return LoadedVoice(
            name, acoustic, vocoder, tables, speaker, sample_rate, hop, am_path, voc_path
        )
