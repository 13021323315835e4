"""PNG figures for MLflow and the results page (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from monorec.storage import atomic_write  # noqa: E402


def _save(figure: plt.Figure, path: Path) -> Path:
    figure.tight_layout()
    atomic_write(path, lambda tmp: figure.savefig(tmp, dpi=120, format="png"))
    plt.close(figure)
    return path


def pareto_front(trials: pd.DataFrame, path: Path) -> Path:
    """Fidelity (RBO@20) against monosemanticity per trial, the non-dominated trials joined."""
    figure, axes = plt.subplots(figsize=(6, 4.5))
    axes.scatter(trials["monosemanticity"], trials["fidelity"], c="tab:blue", alpha=0.7, label="trial")
    points = trials[["monosemanticity", "fidelity"]].to_numpy()
    front = [p for p in points if not ((points >= p).all(1) & (points > p).any(1)).any()]
    front = np.array(sorted(front, key=lambda p: p[0]))
    if len(front):
        axes.plot(front[:, 0], front[:, 1], "o-", color="tab:red", label="Pareto front")
    axes.set_xlabel("monosemanticity")
    axes.set_ylabel("fidelity (RBO@20)")
    axes.legend()
    return _save(figure, path)


def purity_heatmap(purity: np.ndarray, concepts: list[str], path: Path, k: int = 10) -> Path:
    """Neuron x concept purity@K."""
    figure, axes = plt.subplots(figsize=(max(6, 0.35 * len(concepts)), max(4, 0.25 * purity.shape[0])))
    image = axes.imshow(purity, aspect="auto", cmap="viridis", vmin=0, vmax=1)
    axes.set_xticks(range(len(concepts)), concepts, rotation=90, fontsize=7)
    axes.set_ylabel("neuron")
    axes.set_title(f"purity@{k}")
    figure.colorbar(image, ax=axes)
    return _save(figure, path)


def activation_histograms(codes: np.ndarray, labels: list[str], path: Path, top: int = 6) -> Path:
    """Distribution of non-zero activations over items for the `top` most frequently active neurons."""
    order = np.argsort(-(codes > 0).mean(0))[:top]
    figure, grid = plt.subplots(2, (top + 1) // 2, figsize=(10, 5), squeeze=False)
    for axes, neuron in zip(grid.flat, order):
        values = codes[:, neuron]
        axes.hist(values[values > 0], bins=30, color="tab:green")
        axes.set_title(f"neuron {neuron}: {labels[neuron]}", fontsize=8)
    return _save(figure, path)
