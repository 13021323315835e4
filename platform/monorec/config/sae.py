"""The SAE's sections: `sae`, `sae_train`, `interpret` and `case_studies` (docs/method.md §2-5)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from monorec.config.checks import at_least, positive, within
from monorec.errors import ConfigError

Activation = Literal["relu", "topk", "batchtopk"]
Tower = Literal["user", "item", "both"]
Frozen = Literal["none", "encoder", "decoder"]
FidelityMask = Literal["train", "positives", "none"]
Study = Literal["filtering", "promotion", "popularity"]
LOSS_WEIGHTS = ("alpha", "beta", "lambda1", "lambda2")


@dataclasses.dataclass
class SAEConfig:
    """The sparse autoencoder shared by user and item embeddings (docs/method.md §2).

    n_latents: dictionary size m (22 for ML-1M, 70 for Last.FM). activation: `relu` (the paper's,
    with L1/KL sparsity), `topk` or `batchtopk` (keep the k largest per vector / per batch).
    matryoshka: nested prefix sizes m_1 < ... < m_n = m (empty = plain SAE).
    normalize: per-vector standardisation before encoding, undone after decoding (the method's;
    false: the paper's NCF notebook SAE, which encodes raw embeddings).
    frozen: `encoder` or `decoder` keeps that matrix at its random initialisation (untied SAEs
    only; biases still train): the random-SAE sanity check of docs/method.md §4.
    """

    n_latents: int = 22
    activation: Activation = "relu"
    k: int = 4
    tied: bool = True
    matryoshka: list[int] = dataclasses.field(default_factory=list)
    normalize: bool = True
    frozen: Frozen = "none"

    def __post_init__(self) -> None:
        at_least("sae.n_latents", self.n_latents, 1)
        prefixes = self.matryoshka
        if prefixes and (prefixes != sorted(set(prefixes)) or prefixes[0] < 1 or prefixes[-1] != self.n_latents):
            raise ConfigError(
                f"sae.matryoshka must be increasing sizes ending at sae.n_latents={self.n_latents}, got {prefixes}"
            )
        if self.frozen != "none" and self.tied:
            raise ConfigError(f"sae.frozen={self.frozen} needs sae.tied false (a tied SAE has one matrix)")
        if self.activation != "relu" and not 1 <= self.k <= self.n_latents:
            raise ConfigError(f"sae.k must be in 1..{self.n_latents} for {self.activation}, got {self.k}")


@dataclasses.dataclass
class SAETrainConfig:
    """L_total = alpha L_emb + beta L_pred + lambda1 L1 + lambda2 KL(rho) (docs/method.md §3).

    The test users are split into three disjoint, seeded folds (docs/method.md §4): the SAE
    trains on every pair of the users outside the validation and report folds; validation
    users drive per-epoch checks and the search's objective; report users give every fidelity
    and steering number. Items are not held out: the SAE sees every item, as the paper's does.
    Each held-out fold has at most `max_fold_users` users (the rest train the SAE), so that
    validation, fidelity and steering cost the same however many users a catalogue has.
    """

    alpha: float = 1.0
    beta: float = 0.1
    lambda1: float = 0.0
    lambda2: float = 0.01
    rho: float = 0.05
    epochs: int = 18
    batch_size: int = 256
    shuffle_window: int = 1 << 20  # pairs shuffled together each epoch (as train.shuffle_window)
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    validation_share: float = 0.1
    report_share: float = 0.1
    user_split_seed: int = 0
    max_fold_users: int = 2000
    minmax_batches: bool = False
    pred_cross: int = 0
    pred_loss: Literal["mse_logits", "bce"] = "mse_logits"

    def __post_init__(self) -> None:
        at_least("sae_train.pred_cross", self.pred_cross, 0)
        for name in LOSS_WEIGHTS:
            at_least(f"sae_train.{name}", getattr(self, name), 0)
        within("sae_train.rho", self.rho, 0, 1, open_interval=True)
        at_least("sae_train.epochs", self.epochs, 0)
        at_least("sae_train.batch_size", self.batch_size, 1)
        at_least("sae_train.shuffle_window", self.shuffle_window, 1)
        positive("sae_train.lr", self.lr)
        within("sae_train.validation_share", self.validation_share, 0, 1)
        within("sae_train.report_share", self.report_share, 0, 1)
        at_least("sae_train.max_fold_users", self.max_fold_users, 1)
        if self.validation_share + self.report_share >= 1:
            raise ConfigError("sae_train.validation_share + sae_train.report_share must leave users to train the SAE")


@dataclasses.dataclass
class InterpretConfig:
    """Neuron interpretation: purity cut-offs, labelling, and the fidelity list depths.

    fidelity_k: depth of our lists (extrapolated RBO, Kendall tau-b of scores);
    paper_rbo_depth: depth of the paper's (truncated RBO, Kendall tau of ranks, docs/method.md §4).
    fidelity_mask: what leaves both lists before they are compared: each user's training items
    (`train`, ours), every known positive including the held-out ones (`positives`, the MF
    notebook's), or nothing (`none`, the NCF notebook's).
    """

    purity_k: list[int] = dataclasses.field(default_factory=lambda: [10, 20, 50])
    label_k: int = 20
    label_threshold: float = 0.5
    popular_share: float = 0.1
    long_tail_share: float = 0.5
    ms_top_n: int = 30
    fidelity_k: int = 20
    paper_rbo_depth: int = 29
    rbo_p: float = 0.9
    fidelity_mask: FidelityMask = "train"
    chunk_size: int = 65536  # items (or users) encoded at once while scanning for each neuron's top items

    def __post_init__(self) -> None:
        if not self.purity_k or min(self.purity_k) < 1:
            raise ConfigError(f"interpret.purity_k must be a non-empty list of positive K, got {self.purity_k}")
        for name in ("label_k", "ms_top_n", "fidelity_k", "paper_rbo_depth", "chunk_size"):
            at_least(f"interpret.{name}", getattr(self, name), 1)
        for name in ("popular_share", "long_tail_share"):
            within(f"interpret.{name}", getattr(self, name), 0, 1)
        within("interpret.rbo_p", self.rbo_p, 0, 1, open_interval=True)


@dataclasses.dataclass
class CaseStudyConfig:
    """The intervention case studies run after every SAE (docs/method.md §5; `enabled: false` skips them).

    Each study calibrates its strength on the validation users to its target and reports on the
    report users (both held out of SAE training); where a study has several candidate edits (the
    towers listed, or which neurons to raise), the one meeting its target with the least harm on
    the validation users is used. Filtering suppresses `filter_concept`'s best neuron or its
    direction (on each of `filter_towers`) for the `filter_users` users whose top-10 holds most
    of it (the purest concept when the data has none by that name) until its share is at most
    `filter_max_share`, with a `hidden_tags` share of the concept's item tags (drawn with
    `hidden_seed`) hidden from everything but the evaluation: labelling, directions,
    calibration, the linear probe and the metadata filters see the rest only.
    Promotion boosts, on the item named `promote_item` (the concept's most popular item when it
    is null or absent), either its `promote_concept` neuron or its `audiences`' neurons, for the
    users whose most frequent concept is one of `audiences`, until the item is in the
    top-`promote_k` of `promote_min_reach` of them; it is skipped when the data lacks the concept.
    `studies` lists which of the three run (the random-SAE check runs filtering only).
    Popularity control suppresses the popularity neuron or direction (on each of `popularity_towers`) for
    every user until the long-tail share of the top-10 is `popularity_factor` times what it was.
    """

    enabled: bool = True
    studies: list[Study] = dataclasses.field(default_factory=lambda: ["filtering", "promotion", "popularity"])
    filter_concept: str = "Horror"
    filter_users: int = 50
    filter_max_share: float = 0.10
    filter_towers: list[Tower] = dataclasses.field(default_factory=lambda: ["user", "both"])
    hidden_tags: float = 0.5
    hidden_seed: int = 0
    promote_item: str | None = "Bob Dylan"
    promote_concept: str = "Folk"
    audiences: list[str] = dataclasses.field(default_factory=lambda: ["Metal", "Pop"])
    promote_k: int = 30
    promote_min_reach: float = 0.5
    popularity_factor: float = 2.0
    popularity_towers: list[Tower] = dataclasses.field(default_factory=lambda: ["user", "item", "both"])

    def __post_init__(self) -> None:
        at_least("case_studies.filter_users", self.filter_users, 1)
        at_least("case_studies.promote_k", self.promote_k, 1)
        within("case_studies.filter_max_share", self.filter_max_share, 0, 1)
        within("case_studies.promote_min_reach", self.promote_min_reach, 0, 1)
        within("case_studies.hidden_tags", self.hidden_tags, 0, 1)
        at_least("case_studies.popularity_factor", self.popularity_factor, 0)
        if not self.filter_towers or not self.popularity_towers:
            raise ConfigError("case_studies.filter_towers and popularity_towers each need at least one tower")
