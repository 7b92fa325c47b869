"""FunASR model directories: resolve them offline, refuse incomplete ones, load them.

A model is named in config by a local directory or by a ModelScope id (hub aliases such as
``paraformer-zh`` are mapped to their ids here). Ids are resolved with
``modelscope.snapshot_download(id, local_files_only=True)`` — never a download — and the
resolved *directory* is what reaches ``funasr.AutoModel``: given an alias or id offline,
AutoModel retries the hub for ~20 s and then fails with a misleading message, and given a
directory without ``model.pt`` it can silently build a random-weight model.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tingshuo.asr.config import ParaformerConfig
from tingshuo.core.errors import ModelNotFoundError

log = logging.getLogger(__name__)

# FunASR's hub aliases (funasr.download.name_maps_from_hub) for the models this backend uses
ALIASES = {
    "paraformer": "iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-pytorch",
    "paraformer-zh": "iic/speech_seaco_paraformer_large_asr_nat-zh-cn-16k-common-vocab8404-pytorch",
    "paraformer-zh-streaming": "iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-online",
    "fsmn-vad": "iic/speech_fsmn_vad_zh-cn-16k-common-pytorch",
    "ct-punc": "iic/punc_ct-transformer_cn-en-common-vocab471067-large",
    "ct-punc-c": "iic/punc_ct-transformer_zh-cn-common-vocab272727-pytorch",
}
ROLES = {  # config field -> what it is, for messages
    "model": "offline Paraformer",
    "streaming_model": "streaming Paraformer",
    "vad_model": "fsmn-vad",
    "punc_model": "ct-punc",
}
_CJK_SPACE = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")


def _how_to_get(spec: str) -> str:
    model_id = ALIASES.get(spec, spec)
    return (
        f"download it once with `modelscope download --model {model_id}` (or copy the model "
        f"directory here) and set its path in config"
    )


def _looks_like_path(spec: str) -> bool:
    return spec.startswith(("/", ".", "~")) or Path(spec).expanduser().exists()


def resolve_model_dir(spec: str, field: str = "model") -> Path:
    """A complete local model directory for ``spec`` (a path, ModelScope id or alias).

    Raises :class:`ModelNotFoundError` naming the missing directory or file and how to get it.
    """
    role = ROLES.get(field, field)
    if not spec:
        raise ModelNotFoundError(
            f"no {role} model configured: set asr.paraformer.{field} to a local model "
            f"directory or a ModelScope id already in the local cache"
        )
    if _looks_like_path(spec):
        directory = Path(spec).expanduser()
        if not directory.is_dir():
            raise ModelNotFoundError(f"{role} model directory {directory} does not exist")
    else:
        directory = _from_modelscope_cache(ALIASES.get(spec, spec), role, spec)
    check_model_dir(directory, role)
    return directory


def _from_modelscope_cache(model_id: str, role: str, spec: str) -> Path:
    try:
        with quiet_stdout():
            from modelscope import snapshot_download

            return Path(snapshot_download(model_id, local_files_only=True))
    except ImportError:
        raise ModelNotFoundError(
            f"{role} model {spec!r} is a ModelScope id but modelscope is not installed "
            f"(pip install 'tingshuo[funasr]'); or set a local directory instead"
        ) from None
    except Exception as exc:  # modelscope raises its own CacheNotFound / HubError types
        raise ModelNotFoundError(
            f"{role} model {model_id} is not in the local ModelScope cache ({exc}); "
            + _how_to_get(spec)
        ) from None


def check_model_dir(directory: Path, role: str = "FunASR") -> None:
    """Refuse a directory that lacks ``config.yaml`` or the trained weights ``model.pt``."""
    for name in ("config.yaml", "model.pt"):
        if not (directory / name).is_file():
            raise ModelNotFoundError(
                f"{role} model directory {directory} has no {name}"
                + (" (refusing to build a random-weight model)" if name == "model.pt" else "")
                + "; "
                + _how_to_get(str(directory))
            )


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """FunASR prints banners to stdout on import/load; keep stdout clean for --json output."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield
    if buffer.getvalue().strip():
        log.debug("funasr: %s", buffer.getvalue().strip())


def load_automodel(directory: Path, ncpu: int = 2) -> Any:
    """``funasr.AutoModel`` on a checked local directory, offline, CPU."""
    check_model_dir(directory)
    with quiet_stdout():
        from funasr import AutoModel

        return AutoModel(
            model=str(directory),
            disable_update=True,
            device="cpu",
            disable_pbar=True,
            disable_log=True,
            ncpu=ncpu,
        )


def clean_text(text: str) -> str:
    """FunASR char output → plain text: no spaces between CJK characters, no <unk> marks."""
    text = re.sub(r"\s+", " ", text.replace("<unk>", ""))
    return _CJK_SPACE.sub("", text).strip()


def load_punctuator(cfg: ParaformerConfig) -> Callable[[str], str]:
    """ct-punc as a thread-safe ``text -> punctuated text`` function."""
    model = load_automodel(resolve_model_dir(cfg.punc_model, "punc_model"), cfg.ncpu)
    lock = threading.Lock()

    def punctuate(text: str) -> str:
        if not text.strip():
            return text
        with lock, quiet_stdout():
            result = model.generate(input=text)
        return clean_text(result[0]["text"]) if result else text

    return punctuate


def paraformer_status(cfg: ParaformerConfig) -> dict:
    """``tingshuo models`` row for the paraformer backend (checks files; loads nothing)."""
    if importlib.util.find_spec("funasr") is None:
        raise ImportError("funasr", name="funasr")
    where, problems = [], []
    for field in ROLES:
        spec = getattr(cfg, field)
        if not spec:
            continue
        try:
            where.append(f"{field}={resolve_model_dir(spec, field)}")
        except ModelNotFoundError as exc:
            problems.append(str(exc))
    ready = bool(cfg.model or cfg.streaming_model) and not problems
    if not (cfg.model or cfg.streaming_model):
        problems.insert(0, "set asr.paraformer.model and/or asr.paraformer.streaming_model")
    return {
        "name": "paraformer",
        "ready": ready,
        "where": "; ".join(where),
        "detail": "; ".join(problems) if problems else "FunASR models found",
    }
