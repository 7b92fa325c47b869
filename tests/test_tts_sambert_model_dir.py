"""Model directory loading: layout, checkpoint choice, strict loads and clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from tests.sambert_helpers import write_tiny_model_dir, write_voice
from tingshuo.core.errors import ModelNotFoundError
from tingshuo.tts.sambert.model_dir import (
    CheckpointMismatchError,
    ModelDir,
    ModelDirError,
    latest_checkpoint,
    resolve_model_dir,
)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model_dir(tmp_path_factory.mktemp("sambert"))


@pytest.fixture
def copy_dir(tiny_dir: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "model"
    shutil.copytree(tiny_dir, dst)
    return dst


def test_loads_voices_strictly(tiny_dir: Path) -> None:
    md = ModelDir.open(str(tiny_dir))
    assert md.voices == ["zhitian_emo", "plain"]
    voice = md.load_voice("zhitian_emo")
    assert (voice.sample_rate, voice.hop_length, voice.speaker) == (16000, 200, "F7")
    assert voice.tables.sizes()["speaker"] == voice.acoustic.spk_tokenizer.weight.shape[0]
    assert not voice.acoustic.training and not voice.vocoder.training


def test_highest_step_is_chosen(copy_dir: Path) -> None:
    ckpt = copy_dir / "voices" / "plain" / "am" / "ckpt"
    shutil.copy(ckpt / "checkpoint_0.pth", ckpt / "checkpoint_1200.pth")
    (ckpt / "checkpoint_x.pth").write_bytes(b"")  # too short a name: ignored
    assert latest_checkpoint(ckpt).name == "checkpoint_1200.pth"


def test_stored_position_tables_are_accepted(copy_dir: Path) -> None:
    """A KAN-TTS-trained checkpoint carries the two computed tables; both forms load."""
    path = copy_dir / "voices" / "plain" / "am" / "ckpt" / "checkpoint_0.pth"
    ckpt = torch.load(path, weights_only=True)
    ckpt["model"]["text_encoder.ling_enc.position_enc.position_enc"] = torch.zeros(1, 64, 16)
    ckpt["model"]["variance_adaptor.dur_position_encoder.inv_timescales"] = torch.ones(8)
    torch.save(ckpt, path)
    ModelDir.open(str(copy_dir)).load_voice("plain")


def test_missing_voices_json(copy_dir: Path) -> None:
    (copy_dir / "voices" / "voices.json").unlink()
    with pytest.raises(ModelNotFoundError, match="voices.json"):
        ModelDir.open(str(copy_dir))


def test_missing_checkpoint_names_the_directory(copy_dir: Path) -> None:
    shutil.rmtree(copy_dir / "voices" / "plain" / "voc" / "ckpt")
    with pytest.raises(ModelNotFoundError, match=r"voc/ckpt"):
        ModelDir.open(str(copy_dir)).load_voice("plain")


def test_missing_config_names_the_file(copy_dir: Path) -> None:
    (copy_dir / "voices" / "plain" / "am" / "config.yaml").unlink()
    with pytest.raises(ModelNotFoundError, match=r"am/config.yaml"):
        ModelDir.open(str(copy_dir)).load_voice("plain")


def test_mismatching_tensor_is_named_with_shapes(copy_dir: Path) -> None:
    path = copy_dir / "voices" / "plain" / "am" / "ckpt" / "checkpoint_0.pth"
    ckpt = torch.load(path, weights_only=True)
    ckpt["model"]["mel_postnet.fc.weight"] = torch.zeros(80, 9)
    torch.save(ckpt, path)
    with pytest.raises(
        CheckpointMismatchError,
        match=r"mel_postnet.fc.weight: checkpoint shape \[80, 9\], expected \[80, 8\]",
    ):
        ModelDir.open(str(copy_dir)).load_voice("plain")


def test_missing_vocoder_tensor_is_named(copy_dir: Path) -> None:
    path = copy_dir / "voices" / "plain" / "voc" / "ckpt" / "checkpoint_0.pth"
    ckpt = torch.load(path, weights_only=True)
    del ckpt["model"]["generator"]["conv_post.conv1d.bias"]
    torch.save(ckpt, path)
    with pytest.raises(CheckpointMismatchError, match="missing tensor conv_post.conv1d.bias"):
        ModelDir.open(str(copy_dir)).load_voice("plain")


def test_table_size_outside_inventory(copy_dir: Path) -> None:
    path = copy_dir / "voices" / "plain" / "am" / "ckpt" / "checkpoint_0.pth"
    ckpt = torch.load(path, weights_only=True)
    ckpt["model"]["spk_tokenizer.weight"] = torch.zeros(9, 8)
    torch.save(ckpt, path)
    with pytest.raises(ModelDirError, match="speaker table has 9 rows"):
        ModelDir.open(str(copy_dir)).load_voice("plain")


def test_unknown_voice_lists_voices(tiny_dir: Path) -> None:
    with pytest.raises(ModelDirError, match="zhitian_emo, plain"):
        ModelDir.open(str(tiny_dir)).load_voice("nobody")


def test_bad_voices_json(copy_dir: Path) -> None:
    (copy_dir / "voices" / "voices.json").write_text(json.dumps({"voices": []}))
    with pytest.raises(ModelDirError, match="lists no voices"):
        ModelDir.open(str(copy_dir))


def test_unresolvable_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelNotFoundError, match="no Sambert model directory configured"):
        resolve_model_dir("")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model_dir(str(tmp_path / "absent"))
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms-cache"))
    with pytest.raises(ModelNotFoundError, match="not in the local ModelScope cache"):
        resolve_model_dir("no-such-org/no-such-model")


def test_non_tensor_pickle_needs_trust(tmp_path: Path) -> None:
    root = write_tiny_model_dir(tmp_path, voices=("v",))
    path = root / "voices" / "v" / "am" / "ckpt" / "checkpoint_0.pth"
    ckpt = torch.load(path, weights_only=True)
    ckpt["extra"] = Path("x")  # an arbitrary pickled object
    torch.save(ckpt, path)
    with pytest.raises(ModelDirError, match="trust_pickle"):
        ModelDir.open(str(root)).load_voice("v")
    ModelDir.open(str(root), trust_pickle=True).load_voice("v")


def test_second_voice_seed_differs(tmp_path: Path) -> None:
    write_voice(tmp_path, "a", seed=1)
    write_voice(tmp_path, "b", seed=2)
    (tmp_path / "voices" / "voices.json").write_text(json.dumps({"voices": ["a", "b"]}))
    md = ModelDir.open(str(tmp_path))
    wa = md.load_voice("a").acoustic.text_encoder.sy_emb.weight
    wb = md.load_voice("b").acoustic.text_encoder.sy_emb.weight
    assert not torch.equal(wa, wb)


def test_training_only_alignment_tensors_are_dropped(copy_dir: Path) -> None:
    """A MAS-trained checkpoint carries align_attention.* (training only); it still loads."""
    from tingshuo.tts.sambert.acoustic_model import AlignAttention

    path = copy_dir / "voices" / "plain" / "am" / "ckpt" / "checkpoint_0.pth"
    ckpt = torch.load(path, weights_only=True)
    extra = AlignAttention(16, 80).state_dict()
    ckpt["model"].update({f"align_attention.{k}": v for k, v in extra.items()})
    torch.save(ckpt, path)
    voice = ModelDir.open(str(copy_dir)).load_voice("plain")
    assert not hasattr(voice.acoustic, "align_attention")
