"""Bring your own sequence model: a module over padded item sequences, loaded as `module` loads towers.

`tests/fixtures/last_item.py` scores by the last item of the history; its item rows are stored in
the reverse of the dataset's order (`item_ids`), so only a correct alignment passes.
"""

import dataclasses

import pytest
import torch
from safetensors.torch import save_file
from sequence_fixtures import planted_sequences

from monorec.config import DataConfig, ExperimentConfig, ModelConfig
from monorec.data.sequences import leave_last_out
from monorec.errors import ConfigError, DataError
from monorec.kinds.sequence_module import SequenceModuleSpec
from monorec.recommenders import fit_recommender_kind, recommender_from_state
from monorec.recommenders.registry import fold_in_for

FIXTURE = f"{__file__.rsplit('/', 1)[0]}/fixtures/last_item.py:LastItem"
DIM = 8


@pytest.fixture(scope="module")
def planted():
    sequences = planted_sequences(n_users=40)
    return sequences.data, leave_last_out(sequences.data)


@pytest.fixture(scope="module")
def files(planted, tmp_path_factory):
    data, _ = planted
    folder = tmp_path_factory.mktemp("last_item")
    torch.manual_seed(0)
    save_file({"table": torch.randn(data.n_items, DIM)}, folder / "weights.safetensors")
    (folder / "item_ids.txt").write_text("\n".join(str(i) for i in data.item_ids[::-1]) + "\n")
    return folder


def _config(files, n_items: int, **settings) -> ExperimentConfig:
    spec = {
        "path": FIXTURE,
        "weights": str(files / "weights.safetensors"),
        "args": {"n_items": n_items, "dim": DIM},
        "item_ids": str(files / "item_ids.txt"),
        **settings,
    }
    model = ModelConfig("sequence_module", DIM, sequence_module=SequenceModuleSpec(**spec))
    return ExperimentConfig(data=DataConfig(split="leave_last_out"), model=model)


def test_a_users_vector_is_the_modules_encoding_of_their_sequence_in_order(planted, files):
    data, split = planted
    model, result = fit_recommender_kind(_config(files, data.n_items), data, split)
    assert result.epochs == 0  # loaded as it is
    indptr, items = split.history_csr()
    last = items[indptr[1:] - 1]  # each user's last training item (their validation item when tested)
    assert torch.equal(model.user_embeddings(), model.item_embeddings(torch.as_tensor(last)))
    place = fold_in_for("sequence_module", _config(files, data.n_items).train)  # one pass: the last item's
    assert torch.equal(place(model, torch.tensor([3, 7])), model.item_embeddings(torch.tensor([7]))[0])
    loaded = recommender_from_state(model.architecture(), model.state_dict())
    assert torch.equal(loaded.rank_scores(torch.arange(5)), model.rank_scores(torch.arange(5)))


def test_a_broken_module_stops_with_one_line(planted, files):
    data, split = planted
    with pytest.raises(ConfigError, match=r"encode\(items \(B, L\)\) must return \(B, 8\)"):
        broken = {"n_items": data.n_items, "dim": DIM, "width": 4}
        fit_recommender_kind(_config(files, data.n_items, args=broken), data, split)
    with pytest.raises(
        DataError,
        match=rf"item tower has {data.n_items} rows but the data has 10 items; give model\.sequence_module\.item_ids",
    ):
        small = dataclasses.replace(data, item_ids=data.item_ids[:10])
        fit_recommender_kind(_config(files, data.n_items, item_ids=None), small, split)
    with pytest.raises(ConfigError, match=r"model\.sequence_module needs `path`"):
        SequenceModuleSpec(path="no_class_here", weights="w.pt")
