"""Which SAEs one dataset x model cell trains: the beta ablation over seeds, Matryoshka, TopK.

Every SAE is measured and interpreted; the steering case studies (calibration, dose-response
curves, baselines) run on the paper-default SAE of every seed, where the page reports them.
"""

from __future__ import annotations

import dataclasses

from monorec.config import ExperimentConfig, ReproduceConfig
from monorec.reproduction.records import Architecture


@dataclasses.dataclass(frozen=True)
class Variant:
    """One SAE run of a cell. `architecture` is `relu` (the paper's KL-sparse SAE), `matryoshka` or `topk`."""

    name: str
    architecture: Architecture
    seed: int
    beta: float
    config: ExperimentConfig


def cell_name(config: ExperimentConfig) -> str:
    """`ml1m_mf` for the paper's models, `ml1m_als64` for the other models trained from config.

    Models loaded from files or modules have their own width, not the config's: kind alone
    (`KindTraits.sized`). A leave-last-out split's dataset is its sequences, which for ML-1M are a
    subset of the ratings: `ml1m_sequences_sasrec64`, so the page never calls it by the whole's name.
    """
    model = config.model
    width = str(model.embedding_dim) if model.traits.sized else ""
    dataset = f"{config.data.dataset}_sequences" if config.data.split == "leave_last_out" else config.data.dataset
    return f"{dataset}_{model.kind}{width}"


def cell_plan(base: ExperimentConfig, settings: ReproduceConfig) -> list[Variant]:
    """The beta x seed grid at the base SAE, then Matryoshka and TopK at the base beta and first seed."""
    m = base.sae.n_latents
    variants = [
        _variant(base, f"beta{beta:g}_seed{seed}", "relu", seed, beta)
        for beta in settings.betas
        for seed in settings.seeds
    ]
    seed, beta = settings.seeds[0], base.sae_train.beta
    prefixes = sorted({max(1, round(fraction * m)) for fraction in settings.matryoshka_fractions} | {m})
    variants.append(_variant(base, f"matryoshka_seed{seed}", "matryoshka", seed, beta, matryoshka=prefixes))
    k = max(1, round(settings.topk_fraction * m))
    variants.append(_variant(base, f"topk_seed{seed}", "topk", seed, beta, activation="topk", k=k))
    return variants


def _variant(base: ExperimentConfig, name: str, architecture: Architecture, seed: int, beta: float, **sae) -> Variant:
    """One SAE run; the case studies run on the paper-default SAE only (ReLU at the config's beta)."""
    steer = architecture == "relu" and beta == base.sae_train.beta
    config = dataclasses.replace(
        base,
        sae=dataclasses.replace(base.sae, **sae),
        sae_train=dataclasses.replace(base.sae_train, seed=seed, beta=beta),
        case_studies=dataclasses.replace(base.case_studies, enabled=base.case_studies.enabled and steer),
    )
    return Variant(name, architecture, seed, beta, config)
