"""The per-run neuron report: one row per neuron (`neurons.csv`) and the headline tables (`report.md`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from monorec.config import InterpretConfig
from monorec.data.dataset import InteractionData
from monorec.interpret.concepts import Concepts, item_concepts
from monorec.interpret.neurons import (
    best_neurons,
    label_neurons,
    monosemanticity,
    popularity_percentile,
    purity,
    top_decade_share,
)
from monorec.recommenders.base import TwoTowerRecommender
from monorec.results import (
    ConceptNeuron,
    DecadeNeuron,
    Fidelity,
    Monosemanticity,
    PopularityNeuron,
    PrefixGroup,
    PrefixLabel,
)
from monorec.sae.model import SparseAutoencoder
from monorec.sae.scan import TopActivations, scan
from monorec.storage import atomic_write

TOP_ITEMS_SHOWN = 10
POPULARITY_K = 50  # the popularity neuron is also reported at K = 50, as the paper does


@dataclasses.dataclass
class NeuronReport:
    """Every neuron's measures (`neurons`, the rows of neurons.csv) and the run's summary (`mono`)."""

    neurons: pd.DataFrame
    mono: Monosemanticity
    purity_k: list[int]

    @property
    def labels(self) -> dict[str, list[int]]:
        return neurons_by_label(self.neurons)


def neurons_by_label(neurons: pd.DataFrame) -> dict[str, list[int]]:
    """Label -> its neurons, most confident first (unlabelled neurons are left out)."""
    labelled = neurons.dropna(subset=["label"]).sort_values("confidence", ascending=False, kind="stable")
    return {label: group["neuron"].astype(int).tolist() for label, group in labelled.groupby("label", sort=True)}


def interpret_sae(
    sae: SparseAutoencoder, recommender: TwoTowerRecommender, data: InteractionData, config: InterpretConfig
) -> NeuronReport:
    """Every measure of docs/method.md §4 that needs only the codes and the item metadata.

    Items and users are encoded `config.chunk_size` at a time (`scan`), keeping per neuron only
    the top items the measures read, so memory does not grow with catalogue x neurons.
    """
    depth = max(*config.purity_k, config.label_k, config.ms_top_n, POPULARITY_K, TOP_ITEMS_SHOWN)

    def encode(embeddings: torch.Tensor) -> torch.Tensor:
        return sae.encode(embeddings).codes

    items = scan(encode, recommender.item_embeddings().detach(), depth, config.chunk_size)
    users = scan(encode, recommender.user_embeddings().detach(), 0, config.chunk_size)
    concepts = item_concepts(data, config.popular_share, config.long_tail_share)
    genres = concepts.family("genre")
    purities = {k: purity(items, concepts.matrix, k) for k in config.purity_k}
    fires = items.active + users.active
    alive = (fires > 0).cpu().numpy()
    frequency = (fires.double() / (items.n_items + users.n_items)).cpu().numpy()
    neurons = _neuron_table(items, frequency, data, concepts, purities, config)
    neurons["ms"] = monosemanticity(items, concepts.matrix[:, genres], config.ms_top_n)
    mono = Monosemanticity(
        ms=float(neurons["ms"].mean()),  # over every neuron, dead ones at 0 (docs/method.md §4)
        dead_ratio=float(1 - alive.mean()),
        n_labelled=int(neurons["label"].notna().sum()),
        concepts=best_neurons({n: p[:, genres] for n, p in purities.items()}, [concepts.names[c] for c in genres]),
        popularity_neuron=_popularity_neuron(items, data, neurons, alive, config.label_k),
        decade_neurons=_decade_neurons(neurons, alive, config.label_k),
        prefixes=_prefix_groups(neurons, sae.config.matryoshka, min(config.purity_k)),
        firing_rate=float(frequency.mean()),
        mean_activation=float(((items.mean() + users.mean()) / 2).mean()),
    )
    return NeuronReport(neurons, mono, list(config.purity_k))


def _popularity_neuron(
    items: TopActivations, data: InteractionData, neurons: pd.DataFrame, alive: np.ndarray, k: int
) -> PopularityNeuron:
    """The live neuron whose top-k items are the most popular on average."""
    at_k = neurons[f"popularity_percentile@{k}"].to_numpy()
    neuron = int(np.argmin(np.where(alive, np.nan_to_num(at_k, nan=np.inf), np.inf)))
    at_50 = popularity_percentile(items, data.items["popularity_percentile"].to_numpy(), POPULARITY_K)
    return PopularityNeuron(neuron, {k: float(at_k[neuron]), POPULARITY_K: float(at_50[neuron])})


def _decade_neurons(neurons: pd.DataFrame, alive: np.ndarray, k: int) -> dict[str, DecadeNeuron]:
    """Per decade among the live neurons' favourite decades, the neuron with the largest share."""
    shares, modes = neurons[f"top_decade_share@{k}"].to_numpy(), neurons["top_decade"].to_numpy()
    result = {}
    for decade in sorted(set(modes[alive]) - {-1}):
        j = int(np.argmax(np.where(modes == decade, shares, -1.0)))
        result[f"{decade}s"] = DecadeNeuron(j, k, float(shares[j]))
    return result


def _prefix_groups(neurons: pd.DataFrame, prefixes: list[int], k: int) -> list[PrefixGroup]:
    """The neurons each Matryoshka prefix adds beyond the previous one, with their labels and purity@k."""
    groups, start = [], 0
    for end in prefixes:
        labelled = neurons.iloc[start:end].dropna(subset=["label"])
        labels = [PrefixLabel(int(r.neuron), str(r.label), float(r[f"purity@{k}"])) for _, r in labelled.iterrows()]
        mean = float(np.nanmean([label.purity for label in labels])) if labels else None
        groups.append(PrefixGroup(start, end - 1, k, labels, len(labels) / max(end - start, 1), mean))
        start = end
    return groups


def _neuron_table(
    items: TopActivations,
    frequency: np.ndarray,
    data: InteractionData,
    concepts: Concepts,
    purities: dict[int, np.ndarray],
    config: InterpretConfig,
) -> pd.DataFrame:
    k = config.label_k
    labels = label_neurons(items, concepts, k, config.label_threshold)
    decades = data.items["decade"].fillna(-1).to_numpy(dtype=np.int64)
    shares, modes = top_decade_share(items, decades, k)
    percentile = popularity_percentile(items, data.items["popularity_percentile"].to_numpy(), k)
    indices, active = items.top(TOP_ITEMS_SHOWN)
    names = data.items["name"].to_numpy()
    rows = []
    for j, label in enumerate(labels):
        column = concepts.index(label.label) if label.label else None
        rows.append(
            {
                "neuron": j,
                "label": label.label,
                "family": label.family,
                "confidence": label.confidence,
                "precision": label.precision,
                "recall": label.recall,
                **{f"purity@{n}": p[j, column] if column is not None else np.nan for n, p in purities.items()},
                f"popularity_percentile@{k}": percentile[j],
                "top_decade": modes[j],
                f"top_decade_share@{k}": shares[j],
                "frequency": frequency[j],
                "dead": frequency[j] == 0,
                "top_items": "; ".join(names[indices[j][active[j]].cpu().numpy()]),
            }
        )
    return pd.DataFrame(rows)


def write_report(report: NeuronReport, fidelity: Fidelity, folder: Path, title: str) -> None:
    """`neurons.csv` and `report.md` (headline tables first: fidelity, purity, popularity, decades, neurons)."""
    atomic_write(folder / "neurons.csv", lambda tmp: report.neurons.to_csv(tmp, index=False, float_format="%.4f"))
    atomic_write(folder / "report.md", lambda tmp: tmp.write_text(_markdown(report, fidelity, title)))


def _markdown(report: NeuronReport, fidelity: Fidelity, title: str) -> str:
    mono, k = report.mono, fidelity.original.k
    measures = [
        (f"RBO truncated@{fidelity.paper_depth} (the paper's)", fidelity.rbo_truncated),
        (f"Kendall tau of ranks@{fidelity.paper_depth} (the paper's)", fidelity.kendall_tau_ranks),
        (f"RBO extrapolated@{fidelity.depth}", fidelity.rbo_extrapolated),
        (f"Kendall tau-b of scores@{fidelity.depth}", fidelity.kendall_tau_scores),
        (f"ndcg@{k} original", fidelity.original.ndcg),
        (f"ndcg@{k} reconstructed", fidelity.reconstructed.ndcg),
        ("ms", mono.ms),
        ("dead_ratio", mono.dead_ratio),
    ]
    lines = [f"# {title}", "", "## Fidelity and sparsity", ""]
    lines += [f"On {fidelity.users} report users held out of SAE training (docs/method.md §4).", ""]
    lines += ["| metric | value |", "|---|---|"]
    lines += [f"| {name} | {value:.4f} |" for name, value in measures]
    lines += ["", "## Best neuron per concept (semantic purity)", ""]
    lines += ["| concept | neuron | " + " | ".join(f"p@{n}" for n in report.purity_k) + " |"]
    lines += ["|---" * (len(report.purity_k) + 2) + "|"]
    ranked = sorted(mono.concepts.items(), key=lambda kv: [-kv[1].purity[n] for n in report.purity_k])
    for concept, best in ranked:
        lines.append(_concept_row(concept, best, report.purity_k))
    pop = mono.popularity_neuron
    lines += ["", "## Popularity and decade neurons", "", "| neuron | what | value |", "|---|---|---|"]
    for n, value in pop.percentile.items():
        lines.append(f"| {pop.neuron} | popularity: mean percentile of top {n} (0 = most popular) | {value:.1f}% |")
    for decade, best in mono.decade_neurons.items():
        lines.append(f"| {best.neuron} | {decade}: share of top {best.k} | {best.share:.2f} |")
    lines += ["", "## Neurons", "", "| neuron | label | confidence | frequency | top items |", "|---|---|---|---|---|"]
    for row in report.neurons.itertuples():
        label = row.label if isinstance(row.label, str) else "(unlabelled)"
        lines.append(f"| {row.neuron} | {label} | {row.confidence:.2f} | {row.frequency:.3f} | {row.top_items[:120]} |")
    return "\n".join(lines) + "\n"


def _concept_row(concept: str, best: ConceptNeuron, ks: list[int]) -> str:
    return f"| {concept} | {best.neuron} | " + " | ".join(f"{best.purity[n]:.2f}" for n in ks) + " |"
