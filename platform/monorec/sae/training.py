"""SAE training on the frozen recommender's embeddings of observed (user, item) training pairs.

Each epoch shuffles the pairs, and each mini-batch looks up e_u and e_i from the frozen
embedding tables (computed once), so only the SAE is on the autograd tape apart from the
recommender's scoring function, whose parameters have requires_grad False. After every epoch
it logs each loss term, the dead-neuron ratio over all users and items, and RBO@20 / Kendall
tau@20 on a fixed sample of test users, then writes a checkpoint atomically.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
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
from monorec.storage import restore_training_state, save_training_state

log = logging.getLogger(__name__)

CHECKPOINT = "sae_checkpoint.pt"


@dataclasses.dataclass
class SAETrainResult:
    epochs: int
    train_seconds: float
    device: str
    history: list[dict]


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
        codes = torch.cat([sae.encode(recommender.user_embeddings()).codes, sae.encode(recommender.item_embeddings()).codes])
    return (codes > 0).sum(0).eq(0).float().mean().item()


def train_sae(
    sae: SparseAutoencoder,
    recommender: TwoTowerRecommender,
    split: Split,
    config: SAETrainConfig,
    checkpoint_dir: Path | None = None,
    fingerprint: str = "",
    on_epoch: Callable[[dict], None] | None = None,
    parallel: DataParallel = DataParallel(),
) -> SAETrainResult:
    """Train `sae` in place through the frozen `recommender` (data parallel as in `train_recommender`)."""
    device = resolve_device(config.device)
    recommender = freeze(recommender.to(device))
    sae.to(device).train()
    optimizer = torch.optim.Adam(sae.parameters(), lr=config.lr)
    shuffle = torch.Generator(device=device).manual_seed(config.seed)
    users = torch.as_tensor(split.train_users, device=device)
    items = torch.as_tensor(split.train_items, device=device)
    user_table, item_table = recommender.user_embeddings().detach(), recommender.item_embeddings().detach()
    validation = torch.as_tensor(split.test_users[: config.validation_users], device=device)
    stateful = {"sae": sae, "optimizer": optimizer, "shuffle_rng": shuffle}
    checkpoint = checkpoint_dir / CHECKPOINT if checkpoint_dir is not None else None
    history = restore_training_state(checkpoint, fingerprint, stateful)

    for epoch in range(len(history), config.epochs):
        started = time.perf_counter()
        order = parallel.shard(torch.randperm(len(users), device=device, generator=shuffle))
        sums = {name: torch.zeros((), device=device) for name in ("loss", "emb", "pred", "l1", "kl")}
        batch_size = parallel.local_batch_size(config.batch_size)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            u, i = users[batch], items[batch]
            terms = sae_loss_terms(sae, recommender, u, i, user_table[u], item_table[i], config.rho)
            loss = total_loss(terms, config)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            parallel.average_gradients(sae)
            optimizer.step()
            for name, value in {"loss": loss, **terms}.items():
                sums[name] += value.detach() * len(batch)
        seconds = time.perf_counter() - started
        samples = len(order) * parallel.world_size
        stats = {"epoch": epoch + 1, "seconds": seconds, **{k: parallel.sum(v).item() / samples for k, v in sums.items()}}
        if parallel.is_main:  # the other ranks hold the same weights: measure once
            stats.update(_validate(sae, recommender, split, validation))
        history.append(stats)
        log.info(
            "sae epoch %d/%d  loss %.4f (emb %.4f pred %.4f l1 %.3f kl %.3f)  dead %.2f  rbo@20 %.3f  %.2fs",
            epoch + 1, config.epochs, stats["loss"], stats["emb"], stats["pred"], stats["l1"], stats["kl"],
            stats.get("dead_ratio", float("nan")), stats.get("rbo@20", float("nan")), seconds,
        )  # fmt: skip
        if checkpoint is not None and parallel.is_main:
            save_training_state(checkpoint, stateful, history, fingerprint)
        if on_epoch is not None:
            on_epoch(stats)

    sae.eval()
    return SAETrainResult(len(history), sum(h["seconds"] for h in history), str(device), history)


def _validate(sae: SparseAutoencoder, recommender: TwoTowerRecommender, split: Split, users: torch.Tensor) -> dict:
    """Dead-neuron ratio and list fidelity on the validation users, in eval mode."""
    sae.eval()
    stats = {"dead_ratio": dead_ratio(sae, recommender)}
    if len(users):
        stats.update(list_fidelity(recommender.rank_scores, reconstructed_scorer(sae, recommender), split, users))
    sae.train()
    return stats
