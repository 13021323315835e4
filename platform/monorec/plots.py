"""PNG figures for MLflow and the results page (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from monorec.storage import atomic_write


def _save(figure: plt.Figure, path: Path) -> Path:
    figure.tight_layout()
    atomic_write(path, lambda tmp: figure.savefig(tmp, dpi=120, format="png"))
    plt.close(figure)
    return path


def pareto_front(trials: pd.DataFrame, on_front: np.ndarray, path: Path) -> Path:
    """Fidelity against monosemanticity per trial (validation users), the trials `on_front` joined."""
    figure, axes = plt.subplots(figsize=(6, 4.5))
    axes.scatter(trials["monosemanticity"], trials["fidelity"], c="tab:blue", alpha=0.7, label="trial")
    front = trials[on_front].sort_values("monosemanticity")
    if len(front):
        axes.plot(front["monosemanticity"], front["fidelity"], "o-", color="tab:red", label="Pareto front")
    axes.set_xlabel("monosemanticity")
    axes.set_ylabel("fidelity (validation RBO)")
    axes.legend()
    return _save(figure, path)


def paper_front(
    front: list[tuple[float, float]], paper: dict[str, tuple[float, float]], depth: int, path: Path
) -> Path:
    """A search's front as (truncated RBO, MS) on the report users, beside the paper's labelled points."""
    figure, axes = plt.subplots(figsize=(6, 4.5))
    points = np.array(sorted(front)).reshape(-1, 2)
    axes.plot(points[:, 0], points[:, 1], "o-", color="tab:red", label="search's front (report users)")
    rbo, ms = zip(*paper.values())
    axes.scatter(rbo, ms, marker="*", s=150, color="black", label="paper (ML-1M MF)", zorder=3)
    for label, point in paper.items():
        axes.annotate(label, point, textcoords="offset points", xytext=(6, 4), fontsize=8)
    axes.set_xlabel(f"truncated RBO@{depth}")
    axes.set_ylabel("MS")
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


def purity_bars(purity: dict[str, dict[str, dict[str, tuple[float, float]]]], path: Path) -> Path:
    """Purity@10 of each concept's best neuron, one panel per dataset, one bar per model (mean, sd)."""
    figure, panels = plt.subplots(len(purity), 1, figsize=(11, 3.6 * max(len(purity), 1)), squeeze=False)
    for axes, (dataset, models) in zip(panels[:, 0], purity.items()):
        concepts = sorted({c for values in models.values() for c in values})
        width = 0.8 / max(len(models), 1)
        for n, (model, values) in enumerate(models.items()):
            x = np.arange(len(concepts)) + n * width
            means = [values.get(c, (np.nan, 0))[0] for c in concepts]
            errors = [values.get(c, (np.nan, 0))[1] for c in concepts]
            axes.bar(x, means, width, yerr=errors, label=model, capsize=2)
        axes.set_xticks(np.arange(len(concepts)) + 0.4 - width / 2, concepts, rotation=45, ha="right")
        axes.set_ylim(0, 1.05)
        axes.set_ylabel("purity@10")
        axes.set_title(dataset)
        axes.legend()
    return _save(figure, path)


def beta_curves(frame: dict[str, dict[str, list[tuple[float, float, float]]]], path: Path) -> Path:
    """Each metric against beta (symlog axis, since beta = 0 is one of the points), one line per cell."""
    figure, panels = plt.subplots(1, len(frame), figsize=(5 * len(frame), 3.8), squeeze=False)
    for axes, (metric, cells) in zip(panels[0], frame.items()):
        for cell, points in cells.items():
            if points:
                beta, mean, sd = zip(*points)
                axes.errorbar(beta, mean, yerr=sd, marker="o", capsize=3, label=cell)
        axes.set_xscale("symlog", linthresh=0.1)
        axes.set_xlabel("beta")
        axes.set_ylabel(metric)
        axes.legend()
    return _save(figure, path)


def _panels(count: int, columns: int = 4) -> tuple[plt.Figure, list[plt.Axes]]:
    """`count` panels in rows of `columns`; grid slots past `count` are not drawn (no empty panels)."""
    rows, columns = max(1, -(-count // columns)), max(1, min(columns, count))
    figure, grid = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.3 * rows), squeeze=False)
    axes = list(grid.flat)
    for unused in axes[count:]:
        unused.set_visible(False)
    return figure, axes[:count]


def dose_response(panels: dict[str, dict[str, list[tuple[float, float, float, float]]]], path: Path) -> Path:
    """One panel per (cell, study): effect, collateral RBO and NDCG@10 against strength, one colour per seed.

    panels: title -> seed label -> [(strength, effect, collateral, ndcg)] of that seed's calibrated curve.
    """
    figure, axes_list = _panels(len(panels))
    for axes, (title, seeds) in zip(axes_list, panels.items()):
        for colour, (seed, points) in enumerate(seeds.items()):
            strength, effect, collateral, ndcg = (np.array(v) for v in zip(*points))
            style = {"color": f"C{colour}", "markersize": 3}
            axes.plot(strength, effect, "o-", label=f"{seed}: effect", **style)
            axes.plot(strength, collateral, "s--", label=f"{seed}: collateral RBO", **style)
            axes.plot(strength, ndcg / max(ndcg[0], 1e-9), "^:", label=f"{seed}: NDCG@10 / before", **style)
        axes.set_title(title, fontsize=9)
        axes.set_xlabel("strength")
        axes.set_ylim(-0.05, 1.25)
        axes.legend(fontsize=5)
    return _save(figure, path)


def frontiers(panels: dict[str, tuple[str, dict[str, list[tuple[float, float]]]]], path: Path) -> Path:
    """One panel per (cell, study): each method's effect against its harm.

    panels: title -> (the harm's axis label, method -> [(effect, harm)]); SAE and probe curves are
    drawn solid, baselines dashed.
    """
    figure, axes_list = _panels(len(panels))
    for axes, (title, (harm, methods)) in zip(axes_list, panels.items()):
        for method, points in methods.items():
            effect, value = zip(*points)
            solid = not method.startswith("baseline")
            axes.plot(effect, value, "o-" if solid else "x--", label=method, markersize=3)
        axes.set_title(title, fontsize=9)
        axes.set_xlabel("effect")
        axes.set_ylabel(harm)
        axes.legend(fontsize=5)
    return _save(figure, path)
