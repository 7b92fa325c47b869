"""Model dimension records: built from KAN-TTS configs, unsupported variants rejected."""

from __future__ import annotations

import pytest
import yaml

from tests.sambert_helpers import reference_dir
from tingshuo.tts.sambert.dims import HifiganDims, SambertDims, TableSizes


def test_reference_configs_give_the_defaults() -> None:
    cfg = yaml.safe_load((reference_dir() / "configs" / "sambert_16k.yaml").read_text())
    assert SambertDims.from_params(cfg["Model"]["KanTtsSAMBERT"]["params"]) == SambertDims()
    voc = yaml.safe_load((reference_dir() / "configs" / "hifigan_v1_16k.yaml").read_text())
    dims = HifiganDims.from_params(voc["Model"]["Generator"]["params"])
    assert dims == HifiganDims() and dims.hop_length == 200


def test_unknown_keys_ignored_and_tables_kept() -> None:
    tables = TableSizes(speaker=9)
    dims = SambertDims.from_params({"decoder_num_layers": 2, "something_new": 1}, tables)
    assert dims.decoder_num_layers == 2 and dims.tables.speaker == 9


@pytest.mark.parametrize("flag", ["SE", "NSF", "FP"])
def test_unsupported_sambert_variants(flag: str) -> None:
    with pytest.raises(ValueError, match=flag):
        SambertDims.from_params({flag: True})


def test_non_causal_vocoder_rejected() -> None:
    with pytest.raises(ValueError, match="non-causal"):
        HifiganDims.from_params({"causal": False})
