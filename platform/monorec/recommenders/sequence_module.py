"""`model.kind: sequence_module`: your own sequence model, explained and steered as it is.

The protocol (docs/method.md §1b) asks a module for two things:

    encode(items: LongTensor (B, L)) -> Tensor (B, d)   a user vector per sequence of item rows,
                                                        oldest first, left-padded with `padding`
    item_tower() -> Tensor (n_items, d)                 the items' output vectors

and the score of item i for a user is the dot product of their vector with row i of the item
tower, as SASRec's (any model whose last layer is a dot product with an item table fits). A known
user's vector is `encode` of their training sequence in time order; a user the model never saw is
one more call of `encode` (no fitting). The SAE explains the user vectors and the item tower, and
steering edits them; the module's own input embeddings are never touched. The class is named by
a Python path and its weights are a state dict, as `module`'s (`recommenders.custom`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from monorec.config import ExperimentConfig
from monorec.data.dataset import InteractionData
from monorec.data.split import Split
from monorec.errors import ConfigError
from monorec.kinds.sequence_module import KIND, SequenceModuleSpec
from monorec.recommenders.custom import first_line, instantiate, loaded_module, resolved_path, tower_rows
from monorec.recommenders.history import FORWARD, PAD, Histories, HistoryRecommender
from monorec.recommenders.registry import KindSpec
from monorec.training import TrainResult

SEQUENCE_METHODS = ("encode", "item_tower")


class SequenceModuleRecommender(HistoryRecommender):
    """A frozen sequence module behind monorec's interface: `encode` is the user tower, `item_tower` the items."""

    kind = KIND.name

    def __init__(
        self, module: nn.Module, n_users: int, n_items: int, embedding_dim: int, source: dict, history_length: int = 0
    ) -> None:
        super().__init__(n_users, n_items, embedding_dim, history_length)
        self.module, self.source = module, source
        self.register_buffer("module_rows", torch.arange(n_items))  # dataset item index -> the module's row

    def encode(self, histories: Histories) -> torch.Tensor:
        grid = histories.padded(self.source["max_len"])
        rows = torch.where(grid == PAD, self.source["padding"], self.module_rows[grid.clamp(min=0)])
        return self.module.encode(rows)

    def architecture(self) -> dict:
        return {**super().architecture(), "source": self.source}

    @classmethod
    def from_architecture(cls, architecture: dict) -> SequenceModuleRecommender:
        source = architecture["source"]
        sizes = (architecture[key] for key in ("n_users", "n_items", "embedding_dim"))
        return cls(instantiate(source, SEQUENCE_METHODS), *sizes, source, architecture["history_length"])


def load_sequence_module(spec: SequenceModuleSpec, data: InteractionData, split: Split) -> SequenceModuleRecommender:
    """Build the configured class, load its weights, align its item rows by id and keep the split's sequences."""
    source: dict[str, Any] = {
        "path": resolved_path(spec.path),
        "args": spec.args,
        "max_len": spec.max_len,
        "padding": spec.padding,
    }
    module = loaded_module(source, spec, SEQUENCE_METHODS)
    with torch.no_grad():
        items = module.item_tower()
    if items.ndim != 2:
        raise ConfigError(f"{spec.path}: item_tower() must give an (n_items, d) table, got {tuple(items.shape)}")
    rows = tower_rows(spec.item_ids, data.item_ids, len(items), "item", spec.path, spec.section)
    model = SequenceModuleRecommender(module, data.n_users, data.n_items, items.shape[1], source)
    with torch.no_grad():
        model.item_embedding.weight.copy_(items[rows])
        model.module_rows.copy_(rows)
    model.attach(split)
    _check_encode(model, spec.path)
    return model.eval().requires_grad_(False)


def _check_encode(model: SequenceModuleRecommender, source: str) -> None:
    """`encode` must give one vector of the item tower's width per sequence (tried on a one-item sequence)."""
    first = model.history_items[:1]
    try:
        with torch.no_grad():
            shape = tuple(model.encode(Histories(first, torch.zeros_like(first), 1)).shape)
    except Exception as error:  # the user's encoder
        raise ConfigError(f"{source}: encode(items) failed: {type(error).__name__}: {first_line(error)}") from None
    if shape != (1, model.embedding_dim):
        raise ConfigError(
            f"{source}: encode(items (B, L)) must return (B, {model.embedding_dim}), the item tower's width; "
            f"got {shape}"
        )


def fit_sequence_module(
    config: ExperimentConfig, data: InteractionData, split: Split
) -> tuple[SequenceModuleRecommender, TrainResult]:
    """`KindSpec.fit_external`: the module `model.sequence_module` names, loaded as it is (nothing trains)."""
    return load_sequence_module(config.model.settings, data, split), TrainResult.untrained()


SPEC = KindSpec(
    KIND,
    fit_external=fit_sequence_module,
    restore=SequenceModuleRecommender.from_architecture,
    fold_in=lambda _: FORWARD,
)
