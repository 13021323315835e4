"""Which SAEs one dataset x model cell trains: the beta ablation over seeds, Matryoshka, TopK."""

from __future__ import annotations

import dataclasses

from monorec.config import ExperimentConfig, ReproduceConfig
from monorec.reproduction.records import VariantKind


@dataclasses.dataclass(frozen=True)
class Variant:
    """One SAE run of a cell. `kind` is `relu` (the paper's KL-sparse SAE), `matryoshka` or `topk`."""

    name: str
    kind: VariantKind
    seed: int
    beta: float
    config: ExperimentConfig


def cell_name(config: ExperimentConfig) -> str:
    return f"{config.data.dataset}_{config.model.kind}"


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


def _variant(base: ExperimentConfig, name: str, kind: VariantKind, seed: int, beta: float, **sae) -> Variant:
    config = dataclasses.replace(
        base,
        sae=dataclasses.replace(base.sae, **sae),
        sae_train=dataclasses.replace(base.sae_train, seed=seed, beta=beta),
    )
    return Variant(name, kind, seed, beta, config)
