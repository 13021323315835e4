"""The SAE's sections: `sae`, `sae_train`, `interpret` and `case_studies` (docs/method.md §2-5)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from monorec.config.checks import at_least, positive, within
from monorec.errors import ConfigError

Activation = Literal["relu", "topk", "batchtopk"]
LOSS_WEIGHTS = ("alpha", "beta", "lambda1", "lambda2")


@dataclasses.dataclass
class SAEConfig:
    """The sparse autoencoder shared by user and item embeddings (docs/method.md §2).

    n_latents: dictionary size m (22 for ML-1M, 70 for Last.FM). activation: `relu` (the paper's,
    with L1/KL sparsity), `topk` or `batchtopk` (keep the k largest per vector / per batch).
    matryoshka: nested prefix sizes m_1 < ... < m_n = m (empty = plain SAE).
    """

    n_latents: int = 22
    activation: Activation = "relu"
    k: int = 4
    tied: bool = True
    matryoshka: list[int] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        at_least("sae.n_latents", self.n_latents, 1)
        prefixes = self.matryoshka
        if prefixes and (prefixes != sorted(set(prefixes)) or prefixes[0] < 1 or prefixes[-1] != self.n_latents):
            raise ConfigError(
                f"sae.matryoshka must be increasing sizes ending at sae.n_latents={self.n_latents}, got {prefixes}"
            )
        if self.activation != "relu" and not 1 <= self.k <= self.n_latents:
            raise ConfigError(f"sae.k must be in 1..{self.n_latents} for {self.activation}, got {self.k}")


@dataclasses.dataclass
class SAETrainConfig:
    """L_total = alpha L_emb + beta L_pred + lambda1 L1 + lambda2 KL(rho) (docs/method.md §3)."""

    alpha: float = 1.0
    beta: float = 0.1
    lambda1: float = 0.0
    lambda2: float = 0.01
    rho: float = 0.05
    epochs: int = 18
    batch_size: int = 256
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    validation_users: int = 500

    def __post_init__(self) -> None:
        for name in LOSS_WEIGHTS:
            at_least(f"sae_train.{name}", getattr(self, name), 0)
        within("sae_train.rho", self.rho, 0, 1, open_interval=True)
        at_least("sae_train.epochs", self.epochs, 0)
        at_least("sae_train.batch_size", self.batch_size, 1)
        positive("sae_train.lr", self.lr)
        at_least("sae_train.validation_users", self.validation_users, 0)


@dataclasses.dataclass
class InterpretConfig:
    """Neuron interpretation: purity cut-offs, labelling, and the fidelity list depth."""

    purity_k: list[int] = dataclasses.field(default_factory=lambda: [10, 20, 50])
    label_k: int = 20
    label_threshold: float = 0.5
    popular_share: float = 0.1
    long_tail_share: float = 0.5
    ms_top_n: int = 30
    fidelity_k: int = 20
    rbo_p: float = 0.9

    def __post_init__(self) -> None:
        if not self.purity_k or min(self.purity_k) < 1:
            raise ConfigError(f"interpret.purity_k must be a non-empty list of positive K, got {self.purity_k}")
        for name in ("label_k", "ms_top_n", "fidelity_k"):
            at_least(f"interpret.{name}", getattr(self, name), 1)
        for name in ("popular_share", "long_tail_share"):
            within(f"interpret.{name}", getattr(self, name), 0, 1)
        within("interpret.rbo_p", self.rbo_p, 0, 1, open_interval=True)


@dataclasses.dataclass
class CaseStudyConfig:
    """The intervention case studies run after every SAE (docs/method.md §5).

    Filtering suppresses `filter_concept`'s best neuron for the `filter_users` test users whose
    top-10 holds most of it (the purest concept when the data has none by that name). Promotion
    raises the `promote_concept` neuron of the item named `promote_item` (the concept's most
    popular item when it is null or absent) for the test users whose most frequent concept is
    one of `audiences`, and reports its rank among their top-`promote_k`; it is skipped when the
    data lacks the concept. Popularity control suppresses the popularity neuron for every test user.
    """

    filter_concept: str = "Horror"
    filter_users: int = 50
    promote_item: str | None = "Bob Dylan"
    promote_concept: str = "Folk"
    audiences: list[str] = dataclasses.field(default_factory=lambda: ["Metal", "Pop"])
    promote_k: int = 30

    def __post_init__(self) -> None:
        at_least("case_studies.filter_users", self.filter_users, 1)
        at_least("case_studies.promote_k", self.promote_k, 1)
