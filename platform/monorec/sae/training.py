"""SAE training on the frozen recommender's embeddings of observed (user, item) training pairs.

The SAE trains on the pairs of the SAE-train users only (`sae_folds`): the validation and
report users are held out, as the paper's notebooks hold out 20% of users. Each epoch shuffles
the pairs window by window (`monorec.data.pairs`), and each mini-batch looks up e_u and e_i
from the frozen embedding tables (computed once), so only the SAE is on the autograd tape
apart from the recommender's scoring function, whose parameters have requires_grad False.
After every epoch the dead-neuron ratio over all users and items and list fidelity on the
validation users are measured. The loop itself is `monorec.training.fit`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import numpy as np
import torch

from monorec.config import SAETrainConfig
from monorec.data.pairs import InMemoryPairs, PairSource, shuffled_batches
from monorec.data.split import Split, UserFolds, split_users
from monorec.devices import fused_adam, resolve_device, tensor_of
from monorec.evaluation.fidelity import list_fidelity
from monorec.evaluation.ranking import rows_per_tile
from monorec.parallel import DataParallel
from monorec.recommenders.base import TwoTowerRecommender
from monorec.sae.losses import sae_loss_terms, total_loss
from monorec.sae.model import SparseAutoencoder
from monorec.sae.scan import scan
from monorec.storage import Stateful
from monorec.training import FitOptions, TrainResult, fit

CHECKPOINT = "sae_checkpoint.pt"
ENCODE_CHUNK = 65536  # users or items encoded at once by the per-epoch checks
VALIDATION_TILE_MB = 256.0  # per-epoch checks score validation users in tiles of at most this much


def freeze(recommender: TwoTowerRecommender) -> TwoTowerRecommender:
    """Eval mode and no parameter gradients: the SAE may never change the recommender."""
    return recommender.eval().requires_grad_(False)


def reconstructed_scorer(sae: SparseAutoencoder, recommender: TwoTowerRecommender) -> Callable:
    """A ranking function scoring every item from reconstructed user and item embeddings.

    Items are reconstructed once, a chunk at a time; users only when asked for, so scoring a
    tile of users never encodes the whole user table.
    """
    with torch.no_grad():
        item_hat = torch.cat([sae(chunk)[0] for chunk in recommender.item_embeddings().split(ENCODE_CHUNK)])

    def score(users: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return recommender.logits_all(users, sae(recommender.user_embeddings(users))[0], item_hat)

    return score


def dead_ratio(sae: SparseAutoencoder, recommender: TwoTowerRecommender) -> float:
    """Share of neurons never active on any user or item (both tables scanned in chunks)."""

    def encode(embeddings: torch.Tensor) -> torch.Tensor:
        return sae.encode(embeddings).codes

    users = scan(encode, recommender.user_embeddings().detach(), 0, ENCODE_CHUNK)
    items = scan(encode, recommender.item_embeddings().detach(), 0, ENCODE_CHUNK)
    return (users.active + items.active).eq(0).float().mean().item()


def sae_folds(split: Split, config: SAETrainConfig) -> UserFolds:
    """The SAE's train / validation / report users, the same for every run of one split and config."""
    return split_users(
        split, config.validation_share, config.report_share, config.user_split_seed, config.max_fold_users
    )


@dataclasses.dataclass(frozen=True)
class Validation:
    """The held-out users checked after every epoch, and their training items (masked from their lists)."""

    users: np.ndarray
    seen: Split

    @classmethod
    def of(cls, split: Split, users: np.ndarray) -> Validation:
        return cls(users, split.seen_by(users))


class SAETask:
    """One epoch = every observed training pair once, in shuffled windows of mini-batches."""

    name = "sae"

    def __init__(
        self,
        sae: SparseAutoencoder,
        recommender: TwoTowerRecommender,
        pairs: PairSource,
        validation: Validation,
        config: SAETrainConfig,
        device: torch.device,
    ) -> None:
        self.module, self.recommender, self.pairs, self.config, self.device = sae, recommender, pairs, config, device
        self.shuffle = torch.Generator(device=device).manual_seed(config.seed)
        self.user_table = recommender.user_embeddings().detach()
        self.item_table = recommender.item_embeddings().detach()
        self.seen = validation.seen
        self.validation_users = tensor_of(validation.users, device=device)

    def checkpointed(self) -> dict[str, Stateful]:
        return {"shuffle_rng": self.shuffle}

    def batches(self, parallel: DataParallel) -> Iterator[tuple[int, tuple[torch.Tensor, ...]]]:
        step = parallel.local_batch_size(self.config.batch_size)
        for window in self.pairs.windows():
            yield from shuffled_batches(window, step, self.shuffle)

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        users, items = batch
        terms = sae_loss_terms(
            self.module, self.recommender, users, items, self.user_table[users], self.item_table[items], self.config
        )
        return {"loss": total_loss(terms, self.config), **terms}

    def validate(self) -> dict[str, float]:
        """Dead-neuron ratio and list fidelity on the validation users."""
        stats = {"dead_ratio": dead_ratio(self.module, self.recommender)}
        if len(self.validation_users):
            scorer = reconstructed_scorer(self.module, self.recommender)
            rows = rows_per_tile(self.seen.n_items, VALIDATION_TILE_MB, self.recommender.bytes_per_score())
            agreement = list_fidelity(
                self.recommender.rank_scores, scorer, self.seen, self.validation_users, tile_rows=rows
            )
            stats.update(dataclasses.asdict(agreement))
        return stats

    def end_epoch(self, history: list[dict], epochs: int) -> bool:
        return False  # every epoch runs


def train_sae(
    sae: SparseAutoencoder,
    recommender: TwoTowerRecommender,
    split: Split,
    config: SAETrainConfig,
    options: FitOptions = FitOptions(),
) -> TrainResult:
    """Train `sae` in place through the frozen `recommender` on the SAE-train users' pairs, in memory."""
    pairs, validation = in_memory_inputs(split, config, resolve_device(config.device), options.parallel)
    return fit_sae(sae, recommender, pairs, validation, config, options)


def in_memory_inputs(
    split: Split, config: SAETrainConfig, device: torch.device, parallel: DataParallel = DataParallel()
) -> tuple[InMemoryPairs, Validation]:
    """The SAE-train users' pairs and the validation users, from a split held in memory."""
    folds = sae_folds(split, config)
    rows = folds.train_rows(split)
    pairs = InMemoryPairs(
        split.train_users, split.train_items, config.shuffle_window, config.seed, device, parallel, rows
    )
    return pairs, Validation.of(split, folds.validation)


def fit_sae(
    sae: SparseAutoencoder,
    recommender: TwoTowerRecommender,
    pairs: PairSource,
    validation: Validation,
    config: SAETrainConfig,
    options: FitOptions = FitOptions(),
) -> TrainResult:
    """Train `sae` in place on any pair source (checkpoints and resume as `fit`)."""
    device = resolve_device(config.device)
    recommender = freeze(recommender.to(device))
    sae.to(device)
    optimizer = torch.optim.Adam(sae.parameters(), lr=config.lr, **fused_adam(device))
    task = SAETask(sae, recommender, pairs, validation, config, device)
    return fit(task, optimizer, config.epochs, options, CHECKPOINT)
