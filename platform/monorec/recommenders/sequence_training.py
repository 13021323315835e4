"""Training a sequence model (SASRec+): cross-entropy over every item, at every position of each user's sequence.

An epoch walks the users whose training sequence has at least two items, `train.batch_size`
sequences at a time in a fresh order; each position's target is the next item, scored against the
whole catalogue, with no sampled negatives (SASRec+, Klenitskiy and Vasilev 2023: full softmax
beats SASRec's sampled BCE). A tested user's validation item, the last of their training pairs
(`data.sequences`), is never a target: after each epoch the model ranks it, from the sequence
before it, among every item the user has not seen (NDCG@10 on up to `model.sasrec.validation_users`
users), and training stops `model.sasrec.patience` epochs after its best epoch, whose weights it
keeps. Progress, checkpoints and resume are `monorec.training.fit`'s, as for every model.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from monorec.data.split import Split, csr_rows
from monorec.devices import fused_adam, resolve_device, tensor_of
from monorec.parallel import DataParallel
from monorec.recommenders.history import Histories
from monorec.storage import Stateful
from monorec.training import FitOptions, TrainResult, fit

if TYPE_CHECKING:
    from monorec.config import ExperimentConfig
    from monorec.recommenders.sasrec import SASRec

CHECKPOINT = "checkpoint.pt"
VALIDATION_K = 10
VALIDATION_METRIC = f"validation_ndcg@{VALIDATION_K}"


def training_sequences(split: Split) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, items) of each user's sequence to train on: their training pairs in time order, less
    each tested user's validation item (their last)."""
    indptr, items = split.history_csr()
    keep = np.ones(len(items), dtype=bool)
    keep[indptr[split.test_users + 1] - 1] = False
    counts = np.diff(indptr) - np.bincount(split.test_users, minlength=split.n_users)
    return np.concatenate([[0], np.cumsum(counts)]), items[keep]


class SequenceTask:
    """One epoch = every trainable user's sequence once; the loss is the next item's cross-entropy."""

    name = "recommender"

    def __init__(self, model: SASRec, split: Split, config: ExperimentConfig, device: torch.device) -> None:
        self.module, self.device, self.settings = model, device, model.settings
        self.batch_size = config.train.batch_size
        indptr, items = (tensor_of(a, device=device) for a in training_sequences(split))
        users = torch.arange(split.n_users, device=device)
        owner, ordered = csr_rows(indptr, items, users)
        grid = Histories(ordered, owner, split.n_users).padded(self.settings.max_len + 1)
        self.sequences = grid[(grid >= 0).sum(1) >= 2]  # a next item needs an item before it
        self.epoch_rng = torch.Generator().manual_seed(config.train.seed)
        self.shuffle = torch.Generator(device=device)
        self.best = copy.deepcopy(model)
        self._validation(split, indptr, items, config.train.seed)

    def _validation(self, split: Split, indptr: torch.Tensor, items: torch.Tensor, seed: int) -> None:
        """The validation users (a seeded sample of the tested), their sequences, items and what they have seen."""
        rows = np.random.default_rng(seed).permutation(len(split.test_users))[: self.settings.validation_users]
        rows.sort()
        users = tensor_of(split.test_users[rows], device=self.device)
        owner, ordered = csr_rows(indptr, items, users)
        self.validation_inputs = Histories(ordered, owner, len(users)).padded(self.settings.max_len)
        self.validation_items = tensor_of(split.validation_items[rows], device=self.device)
        self.validation_users = users
        self.seen = tuple(tensor_of(a, device=self.device) for a in split.seen_csr())

    def checkpointed(self) -> dict[str, Stateful]:
        return {"epoch_rng": self.epoch_rng, "best_weights": self.best}

    def batches(self, parallel: DataParallel) -> Iterator[tuple[int, tuple[torch.Tensor, ...]]]:
        # One order for every rank (seeded from the checkpointed epoch generator), each rank its
        # equal share of it; dropout's draws (torch's global generator) are each rank's own. A
        # resumed run draws exactly what the uninterrupted one would.
        seed = int(torch.randint(2**62, (), generator=self.epoch_rng))
        self.shuffle.manual_seed(seed)
        torch.manual_seed(seed + 1 + 2 * parallel.rank)
        order = torch.randperm(len(self.sequences), device=self.device, generator=self.shuffle)
        shard = parallel.shard(order)
        size = parallel.local_batch_size(self.batch_size)
        for start in range(0, len(shard), size):
            grid = self.sequences[shard[start : start + size]]
            width = int((grid >= 0).sum(1).max())
            yield len(grid), (grid[:, -width:],)

    def loss(self, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        (grid,) = batch
        inputs, targets = grid[:, :-1], grid[:, 1:]
        scored = (inputs >= 0) & (targets >= 0)
        states = self.module.states(inputs)[scored]
        logits = states @ self.module.item_embedding.weight.T
        return {"loss": F.cross_entropy(logits, targets[scored])}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """NDCG@10 of the validation item among every item the user has not seen (one target: 1 / log2(1 + rank)),
        its rank expected under random tie-breaking, as `evaluation.ranking` ranks."""
        states = self.module.states(self.validation_inputs)[:, -1]
        scores = states @ self.module.item_embedding.weight.T
        targets = self.validation_items[:, None]
        target_scores = scores.gather(1, targets)
        owner, seen = csr_rows(*self.seen, self.validation_users)
        scores = scores.index_put((owner, seen), torch.tensor(float("-inf"), device=scores.device))
        scores = scores.scatter(1, targets, target_scores)  # the validation item is seen: put it back
        rank = 1.0 + (scores > target_scores).sum(1) + ((scores == target_scores).sum(1) - 1) / 2.0
        gains = torch.where(rank <= VALIDATION_K, 1.0 / torch.log2(rank + 1.0), torch.zeros_like(rank))
        return {VALIDATION_METRIC: gains.mean().item()}

    def end_epoch(self, history: list[dict], epochs: int) -> bool:
        """Keep the best epoch's weights; stop `patience` epochs after it, or at the last, with them."""
        scores = [epoch[VALIDATION_METRIC] for epoch in history]
        best = int(np.argmax(scores))
        if best == len(history) - 1:
            self.best.load_state_dict(self.module.state_dict())
        stop = len(history) - 1 - best >= self.settings.patience
        if stop or len(history) >= epochs:
            self.module.load_state_dict(self.best.state_dict())
        return stop


def train_sequence_model(
    model: SASRec, split: Split, config: ExperimentConfig, options: FitOptions = FitOptions()
) -> TrainResult:
    """Train `model` in place on the split's sequences with Adam (checkpoints and resume as `fit`)."""
    device = resolve_device(config.train.device)
    model.to(device)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config.train.lr, weight_decay=config.train.weight_decay, **fused_adam(device)
    )
    return fit(SequenceTask(model, split, config, device), optimizer, config.train.epochs, options, CHECKPOINT)
