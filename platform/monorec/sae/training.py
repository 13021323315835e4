"""SAE training on the frozen recommender's embeddings of observed (user, item) training pairs.

The SAE trains on the pairs of the SAE-train users only (`sae_folds`): the validation and
report users are held out, as the paper's notebooks hold out 20% of users. Each epoch shuffles
the pairs, and each mini-batch looks up e_u and e_i from the frozen embedding tables (computed
once), so only the SAE is on the autograd tape apart from the recommender's scoring function,
whose parameters have requires_grad False. After every epoch the dead-neuron ratio over all
users and items and list fidelity on the validation users are measured. The loop itself is
`monorec.training.fit`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from monorec.config import SAETrainConfig
from monorec.data.split import Split, UserFolds, split_users
from monorec.devices import resolve_device
from monorec.evaluation.fidelity import list_fidelity
from monorec.parallel import DataParallel
from monorec.recommenders.base import TwoTowerRecommender
from monorec.sae.losses import sae_loss_terms, total_loss
from monorec.sae.model import SparseAutoencoder
from monorec.training import EpochCallback, TrainResult, fit

CHECKPOINT = "sae_checkpoint.pt"


def freeze(recommender: TwoTowerRecommender) -> TwoTowerRecommender:
    """Eval mode and no parameter gradients: the SAE may never change the recommender."""
    return recommender.eval().requires_grad_(False)


def reconstructed_scorer(sae: SparseAutoencoder, recommender: TwoTowerRecommender) -> Callable:
    """A ranking function scoring every item from reconstructed user and item embeddings."""
    with torch.no_grad():
        user_hat, _ = sae(recommender.user_embeddings())
        item_hat, _ = sae(recommender.item_embeddings())
    return lambda users: recommender.logits_all(users, user_hat[users], item_hat)


def dead_ratio(sae: SparseAutoencoder, recommender: TwoTowerRecommender) -> float:
    """Share of neurons never active on any user or item."""
    with torch.no_grad():
        users, items = sae.encode(recommender.user_embeddings()), sae.encode(recommender.item_embeddings())
    return (torch.cat([users.codes, items.codes]) > 0).sum(0).eq(0).float().mean().item()


def sae_folds(split: Split, config: SAETrainConfig) -> UserFolds:
    """The SAE's train / validation / report users, the same for every run of one split and config."""
    return split_users(split, config.validation_share, config.report_share, config.user_split_seed)


class SAETask:
    """One epoch = every observed training pair once, in shuffled mini-batches."""

    name = "sae"

    def __init__(
        self,
        sae: SparseAutoencoder,
        recommender: TwoTowerRecommender,
        split: Split,
        config: SAETrainConfig,
        device: torch.device,
    ) -> None:
        self.module, self.recommender, self.split, self.config, self.device = sae, recommender, split, config, device
        self.shuffle = torch.Generator(device=device).manual_seed(config.seed)
        folds = sae_folds(split, config)
        users, items = folds.train_pairs(split)
        self.users = torch.as_tensor(users, device=device)
        self.items = torch.as_tensor(items, device=device)
        self.user_table = recommender.user_embeddings().detach()
        self.item_table = recommender.item_embeddings().detach()
        self.validation_users = torch.as_tensor(folds.validation, device=device)
        with torch.no_grad():  # the frozen model's own scores never change: score them once, not every epoch
            self.validation_scores = recommender.rank_scores(self.validation_users)

    def random_state(self) -> dict[str, torch.Generator]:
        return {"shuffle_rng": self.shuffle}

    def _original(self, users: torch.Tensor) -> torch.Tensor:
        """The cached original scores of validation users (sorted, so rows are found by search)."""
        return self.validation_scores[torch.searchsorted(self.validation_users, users)]

    def batches(self, parallel: DataParallel) -> Iterator[tuple[int, tuple[torch.Tensor, torch.Tensor]]]:
        order = parallel.shard(torch.randperm(len(self.users), device=self.device, generator=self.shuffle))
        step = parallel.local_batch_size(self.config.batch_size)
        for start in range(0, len(order), step):
            batch = order[start : start + step]
            yield len(batch), (self.users[batch], self.items[batch])

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        users, items = batch
        terms = sae_loss_terms(
            self.module, self.recommender, users, items, self.user_table[users], self.item_table[items], self.config.rho
        )
        return {"loss": total_loss(terms, self.config), **terms}

    def validate(self) -> dict[str, float]:
        """Dead-neuron ratio and list fidelity on the validation users."""
        stats = {"dead_ratio": dead_ratio(self.module, self.recommender)}
        if len(self.validation_users):
            scorer = reconstructed_scorer(self.module, self.recommender)
            agreement = list_fidelity(self._original, scorer, self.split, self.validation_users)
            stats.update(dataclasses.asdict(agreement))
        return stats


def train_sae(
    sae: SparseAutoencoder,
    recommender: TwoTowerRecommender,
    split: Split,
    config: SAETrainConfig,
    checkpoint_dir: Path | None = None,
    fingerprint: str = "",
    on_epoch: EpochCallback | None = None,
    parallel: DataParallel = DataParallel(),
) -> TrainResult:
    """Train `sae` in place through the frozen `recommender` (checkpoints and resume as `fit`)."""
    device = resolve_device(config.device)
    recommender = freeze(recommender.to(device))
    sae.to(device)
    optimizer = torch.optim.Adam(sae.parameters(), lr=config.lr)
    task = SAETask(sae, recommender, split, config, device)
    checkpoint = checkpoint_dir / CHECKPOINT if checkpoint_dir is not None else None
    return fit(task, optimizer, config.epochs, checkpoint, fingerprint, on_epoch, parallel)
