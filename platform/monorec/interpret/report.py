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
    top_items,
)
from monorec.recommenders.base import TwoTowerRecommender
from monorec.sae.model import SparseAutoencoder
from monorec.storage import atomic_write

TOP_ITEMS_SHOWN = 10


@dataclasses.dataclass
class NeuronReport:
    neurons: pd.DataFrame  # one row per neuron, the columns of neurons.csv
    purity: dict[str, dict]  # genre/tag -> {neuron, p@10, p@20, p@50}: the concept's best neuron
    popularity_neuron: dict  # {neuron, percentile@20, percentile@50}
    decade_neurons: dict[str, dict]  # "1990s" -> {neuron, share@20}
    ms: float
    dead_ratio: float

    @property
    def labels(self) -> dict[str, list[int]]:
        return neurons_by_label(self.neurons)

    def summary(self) -> dict:
        return {
            "ms": self.ms,
            "dead_ratio": self.dead_ratio,
            "n_labelled_neurons": int(self.neurons["label"].notna().sum()),
            "purity": self.purity,
            "popularity_neuron": self.popularity_neuron,
            "decade_neurons": self.decade_neurons,
        }


def neurons_by_label(neurons: pd.DataFrame) -> dict[str, list[int]]:
    """Label -> its neurons, most confident first (unlabelled neurons are left out)."""
    labelled = neurons.dropna(subset=["label"]).sort_values("confidence", ascending=False, kind="stable")
    return {label: group["neuron"].astype(int).tolist() for label, group in labelled.groupby("label", sort=True)}


def interpret_sae(
    sae: SparseAutoencoder, recommender: TwoTowerRecommender, data: InteractionData, config: InterpretConfig
) -> NeuronReport:
    """Every measure of METHOD.md section 4 that needs only the codes and the item metadata."""
    with torch.no_grad():
        items = sae.encode(recommender.item_embeddings()).codes
        users = sae.encode(recommender.user_embeddings()).codes
    concepts = item_concepts(data, config.popular_share, config.long_tail_share)
    genres = concepts.family("genre")
    purities = {k: purity(items, concepts.matrix, k) for k in config.purity_k}
    alive = (((items > 0).sum(0) + (users > 0).sum(0)) > 0).cpu().numpy()
    neurons = _neuron_table(items, users, data, concepts, purities, config)
    neurons["ms"] = monosemanticity(items, concepts.matrix[:, genres], config.ms_top_n)

    k = config.label_k
    popularity = {
        k: neurons[f"popularity_percentile@{k}"].to_numpy(),
        50: popularity_percentile(items, data.items["popularity_percentile"].to_numpy(), 50),
    }
    popular = int(np.argmin(np.where(alive, np.nan_to_num(popularity[k], nan=np.inf), np.inf)))
    shares, modes = neurons[f"top_decade_share@{k}"].to_numpy(), neurons["top_decade"].to_numpy()
    decade_neurons = {}
    for decade in sorted(set(modes[alive]) - {-1}):
        j = int(np.argmax(np.where(modes == decade, shares, -1.0)))
        decade_neurons[f"{decade}s"] = {"neuron": j, f"share@{k}": float(shares[j])}
    return NeuronReport(
        neurons=neurons,
        purity=best_neurons({n: p[:, genres] for n, p in purities.items()}, [concepts.names[c] for c in genres]),
        popularity_neuron={
            "neuron": popular,
            f"percentile@{k}": float(popularity[k][popular]),
            "percentile@50": float(popularity[50][popular]),
        },
        decade_neurons=decade_neurons,
        ms=_nanmean(neurons["ms"].to_numpy()[alive]),
        dead_ratio=float(1 - alive.mean()),
    )


def _nanmean(values: np.ndarray) -> float:
    """Mean over finite values (MS is undefined for neurons never active on an item); NaN if none."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def _neuron_table(
    items: torch.Tensor,
    users: torch.Tensor,
    data: InteractionData,
    concepts: Concepts,
    purities: dict[int, np.ndarray],
    config: InterpretConfig,
) -> pd.DataFrame:
    k = config.label_k
    labels = label_neurons(items, concepts, k, config.label_threshold)
    frequency = torch.cat([items, users]).gt(0).float().mean(0).cpu().numpy()
    decades = data.items["decade"].fillna(-1).to_numpy(dtype=np.int64)
    shares, modes = top_decade_share(items, decades, k)
    percentile = popularity_percentile(items, data.items["popularity_percentile"].to_numpy(), k)
    indices, active = top_items(items, TOP_ITEMS_SHOWN)
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


def write_report(report: NeuronReport, metrics: dict, folder: Path, title: str) -> None:
    """`neurons.csv` and `report.md` (headline tables first: fidelity, purity, popularity, decades, neurons)."""
    atomic_write(folder / "neurons.csv", lambda tmp: report.neurons.to_csv(tmp, index=False, float_format="%.4f"))
    atomic_write(folder / "report.md", lambda tmp: tmp.write_text(_markdown(report, metrics, title)))


def _markdown(report: NeuronReport, metrics: dict, title: str) -> str:
    fidelity = ["rbo@20", "kendall_tau@20", "ndcg@10_original", "ndcg@10_reconstructed", "ms", "dead_ratio"]
    lines = [f"# {title}", "", "## Fidelity and sparsity", "", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {metrics[name]:.4f} |" for name in fidelity if name in metrics]
    lines += ["", "## Best neuron per concept (semantic purity)", ""]
    ks = [key for key in next(iter(report.purity.values()), {}) if key != "neuron"]
    lines += ["| concept | neuron | " + " | ".join(ks) + " |", "|---" * (len(ks) + 2) + "|"]
    ranked = sorted(report.purity.items(), key=lambda kv: [-kv[1][key] for key in ks])
    for concept, best in ranked:
        lines.append(f"| {concept} | {best['neuron']} | " + " | ".join(f"{best[key]:.2f}" for key in ks) + " |")
    pop = report.popularity_neuron
    lines += ["", "## Popularity and decade neurons", "", "| neuron | what | value |", "|---|---|---|"]
    lines += [f"| {pop['neuron']} | popularity: mean percentile of top {key.split('@')[1]} (0 = most popular) | {value:.1f}% |"
              for key, value in pop.items() if key != "neuron"]  # fmt: skip
    for decade, best in report.decade_neurons.items():
        key = next(k for k in best if k != "neuron")
        lines.append(f"| {best['neuron']} | {decade}: share of top {key.split('@')[1]} | {best[key]:.2f} |")
    lines += ["", "## Neurons", "", "| neuron | label | confidence | frequency | top items |", "|---|---|---|---|---|"]
    for row in report.neurons.itertuples():
        label = row.label if isinstance(row.label, str) else "(unlabelled)"
        lines.append(f"| {row.neuron} | {label} | {row.confidence:.2f} | {row.frequency:.3f} | {row.top_items[:120]} |")
    return "\n".join(lines) + "\n"
