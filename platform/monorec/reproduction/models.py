"""The page's model-kind comparison: every recommender's cost and quality, and how well the same
SAE explains each one, measured against the dataset's MF (the paper's model) and said plainly.

The recommender table comes from `results/recommender_kinds.json`, the output of
`benchmarks/bench_recommender.py` (every kind trained one after another in one process, so
its times compare); the explanation table from the reproduction's paper-default SAEs.
"""

from __future__ import annotations

import numpy as np

from monorec.kinds import KINDS, REFERENCE_KIND
from monorec.reproduction.format import dataset_name, dataset_of, kind_of, model_of, stat, table
from monorec.reproduction.prose import fill
from monorec.reproduction.records import PURE, Runs, SAERecord

MARGIN = 0.02  # differences in mean RBO or purity below this are reported as a tie


def models_section(runs: Runs, recommender_kinds: dict | None) -> str:
    datasets = [d for d in dict.fromkeys(map(dataset_of, runs)) if _others(runs, d)]
    if not datasets and recommender_kinds is None:
        return ""
    tables = [_recommender_table(recommender_kinds)] if recommender_kinds is not None else []
    tables += [_explanation_table(runs, dataset) for dataset in datasets]
    return fill("models", tables="".join(f"\n\n{part}" for part in tables))


def _recommender_table(bench: dict) -> str:
    machine = bench["machine"]
    device = "a CPU" if machine["device"] == "cpu" else machine["device"]  # benchmarks name CPUs by processor
    rows = [
        [name, row["config"], f"{row['train_seconds']:.1f} s", f"{row['ndcg@10']:.3f}"]
        for name, row in bench["kinds"].items()
    ]
    return fill(
        "recommender_kinds",
        dataset=dataset_name(bench["dataset"]),
        device=device,
        threads=machine["cpu_threads"],
        table=table(["model", "settings", "train time", "NDCG@10"], rows),
    )


def _explanation_table(runs: Runs, dataset: str) -> str:
    cells = [c for c in runs if dataset_of(c) == dataset and runs[c].base()]
    measures = {cell: _measures(runs[cell].base()) for cell in cells}
    depth = runs[cells[0]].base()[0].run.fidelity.paper_depth
    rows = []
    for cell in cells:
        recommender = runs[cell].recommender
        ndcg = f"{recommender.run.model.full.ndcg:.3f}" if recommender else "–"
        found, purity, rbo = measures[cell]
        rows.append([model_of(cell), ndcg, stat(found, 1), stat(purity), stat(rbo), len(found)])
    header = ["model", "NDCG@10", f"concepts at purity@10 >= {PURE}", "mean best-neuron purity@10"]
    reference, verdicts = f"{dataset}_{REFERENCE_KIND}", ""
    if reference in measures:
        names = ("concepts found", "mean purity@10", f"truncated RBO@{depth}")
        verdicts = "\n" + "".join(
            f"\n- {model_of(cell)}: {_verdict(measures[cell], measures[reference], names)}."
            for cell in cells
            if cell != reference
        )
    return fill(
        "explained",
        dataset=dataset_name(dataset),
        table=table([*header, f"truncated RBO@{depth}", "seeds"], rows),
        verdicts=verdicts,
    )


def _measures(base: list[SAERecord]) -> tuple[list[float], list[float], list[float]]:
    """Per seed: concepts whose best neuron is pure, mean best-neuron purity@10, truncated RBO."""
    purities = [[best.purity[10] for best in record.run.mono.concepts.values()] for record in base]
    found = [float(sum(p >= PURE for p in seed)) for seed in purities]
    return found, [float(np.mean(seed)) for seed in purities], [r.run.fidelity.rbo_truncated for r in base]


def _verdict(model: tuple[list[float], ...], mf: tuple[list[float], ...], names: tuple[str, ...]) -> str:
    """Better, worse or level with MF on each measure, and by how much."""
    changes, worse = [], []
    for name, ours, theirs, margin in zip(names, model, mf, (0.5, MARGIN, MARGIN)):
        value, reference = float(np.mean(ours)), float(np.mean(theirs))
        delta = value - reference
        shown = f"{name} {value:.2f} against MF's {reference:.2f}"
        if abs(delta) < margin:
            changes.append(f"{shown}, level")
        else:
            changes.append(f"{shown}, {'higher' if delta > 0 else 'lower'} by {abs(delta):.2f}")
            worse += [name] if delta < 0 else []
    summary = f"explained worse than MF on {' and '.join(worse)}" if worse else "explained at least as well as MF"
    return f"{summary} ({'; '.join(changes)})"


def _others(runs: Runs, dataset: str) -> bool:
    kinds = [KINDS.get(kind_of(c)) for c in runs if dataset_of(c) == dataset]
    return any(traits is None or not traits.paper for traits in kinds)
