"""SAE training on the frozen recommender's embeddings of observed (user, item) training pairs.

Each epoch shuffles the pairs, and each mini-batch looks up e_u and e_i from the frozen
embedding tables (computed once), so only the SAE is on the autograd tape apart from the
recommender's scoring function, whose parameters have requires_grad False. After every epoch
the dead-neuron ratio over all users and items and RBO / Kendall tau on a fixed sample of
test users are measured. The loop itself is `monorec.training.fit`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from monorec.config import SAETrainConfig
from monorec.data.split import Split
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
        self.users = torch.as_tensor(split.train_users, device=device)
        self.items = torch.as_tensor(split.train_items, device=device)
        self.user_table = recommender.user_embeddings().detach()
        self.item_table = recommender.item_embeddings().detach()
        self.validation_users = torch.as_tensor(split.test_users[: config.validation_users], device=device)

    def random_state(self) -> dict[str, torch.Generator]:
        return {"shuffle_rng": self.shuffle}

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
            agreement = list_fidelity(self.recommender.rank_scores, scorer, self.split, self.validation_users)
            stats.update(rbo=agreement.rbo, kendall_tau=agreement.kendall_tau)
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
