"""`results/README.md` and its figures, rendered from `results/metrics/` alone.

The page is a pure function of the metrics files, so a test can re-render it and compare it
with the committed page: a hand edit, or a page left behind by an older run, fails that test.
Numbers are the mean ± standard deviation over the SAE seeds where a table says so, else seed 0.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np

from monorec.reproduction.case_studies import case_studies_section
from monorec.reproduction.figures import dose_panels, frontier_panels
from monorec.reproduction.format import dataset_name, dataset_of, model_of, sd, seeds, stat, table
from monorec.reproduction.gap import gap_section
from monorec.reproduction.models import models_section
from monorec.reproduction.prose import fill
from monorec.reproduction.records import Runs, load_runs
from monorec.reproduction.sections import (
    fidelity_section,
    matryoshka_section,
    popularity_section,
    purity_concepts,
    purity_section,
    topk_section,
)
from monorec.reproduction.sequential import SEQUENTIAL_BENCH, sequential_section
from monorec.reproduction.shortfalls import shortfalls_section
from monorec.storage import atomic_write, read_json

FIGURES = ("purity.png", "beta_ablation.png", "dose_response.png", "steering_frontier.png")


RECOMMENDER_KINDS = "recommender_kinds.json"  # benchmarks/bench_recommender.py's output, kept with the metrics


def write_page(results_dir: Path) -> Path:
    """Regenerate the figures (when matplotlib is installed) and the README from the metrics files."""
    runs = load_runs(results_dir)
    try:
        from monorec import plots
    except ImportError:  # the core install has no matplotlib: the page still renders, the figures wait
        pass
    else:
        if runs:  # an ablation alone (`jobs/ablate.py` into a fresh folder) has no reproduction to plot
            _figures_of(runs, results_dir, plots)
    readme = results_dir / "README.md"
    atomic_write(readme, lambda tmp: tmp.write_text(render_page(results_dir)))
    return readme


def _figures_of(runs: Runs, results_dir: Path, plots: ModuleType) -> None:
    plots.purity_bars(_purity_frame(runs), results_dir / FIGURES[0])
    plots.beta_curves(_beta_frame(runs), results_dir / FIGURES[1])
    plots.dose_response(dose_panels(runs), results_dir / FIGURES[2])
    plots.frontiers(frontier_panels(runs), results_dir / FIGURES[3])


def render_page(results_dir: Path) -> str:
    runs = load_runs(results_dir)
    sections = [
        _header(runs),
        _timings(runs),
        purity_section(runs),
        popularity_section(runs),
        fidelity_section(runs),
        topk_section(runs),
        matryoshka_section(runs),
        case_studies_section(runs),
        models_section(runs, _kept(results_dir, RECOMMENDER_KINDS)),
        gap_section(results_dir, runs),
        sequential_section(runs, _kept(results_dir, SEQUENTIAL_BENCH)),
        shortfalls_section(runs),
        fill("figures"),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _kept(results_dir: Path, name: str) -> dict | None:
    """A benchmark's output kept with the metrics (`recommender_kinds.json`, `sequential_bench.json`), if there."""
    path = results_dir / name
    return read_json(path) if path.is_file() else None


def _header(runs: Runs) -> str:
    rows, k = [], 10
    for cell, results in runs.items():
        recommender = results.recommender
        if recommender is None:
            rows.append([dataset_name(dataset_of(cell)), model_of(cell), *["–"] * 5, len(results.saes), ""])
            continue
        run = recommender.run
        k = run.model.full.k
        rows.append(
            [
                *(dataset_name(dataset_of(cell)), model_of(cell), run.dataset.n_users, run.dataset.n_items),
                *(run.dataset.n_interactions, stat([run.model.full.ndcg], 3), stat([run.popularity.full.ndcg], 3)),
                *(len(results.saes), seeds(results.base())),
            ]
        )
    header = ["dataset", "model", "users", "items", "interactions", f"NDCG@{k}", f"popularity NDCG@{k}"]
    return fill("header", table=table([*header, "SAE runs", "seeds"], rows))


def _timings(runs: Runs) -> str:
    seconds: dict[str, float] = {}
    for results in runs.values():
        for record in results.records():
            seconds[record.machine] = seconds.get(record.machine, 0.0) + record.wall_seconds
    rows = [[machine, f"{total / 60:.1f} min"] for machine, total in sorted(seconds.items())]
    gpu_note = fill("no_gpu_run") if not any("CPU" not in machine for machine in seconds) else ""
    return fill("run_time", table=table(["machine", "whole reproduction"], rows), gpu_note=gpu_note)


def _purity_frame(runs: Runs) -> dict[str, dict[str, dict[str, tuple[float, float]]]]:
    """dataset -> model -> concept -> (mean, sd) purity at the smallest K over the seeds."""
    frame: dict = {}
    for cell, results in runs.items():
        dataset = dataset_of(cell)
        values = {}
        for concept in purity_concepts(runs, dataset):
            bests = [r.run.mono.concepts[concept] for r in results.base() if concept in r.run.mono.concepts]
            ours = [best.purity[min(best.purity)] for best in bests]
            if ours:
                values[concept] = (float(np.mean(ours)), sd(ours))
        frame.setdefault(dataset, {})[model_of(cell)] = values
    return frame


def _beta_frame(runs: Runs) -> dict[str, dict[str, list[tuple[float, float, float]]]]:
    """metric -> cell -> [(beta, mean, sd)] for fidelity (RBO) and MS."""
    measures = {"truncated RBO": lambda r: r.run.fidelity.rbo_truncated, "MS": lambda r: r.run.mono.ms}
    frame: dict = {}
    for metric, measure in measures.items():
        frame[metric] = {
            cell: [
                (beta, float(np.mean(values)), sd(values))
                for beta in results.betas()
                for values in [[measure(r) for r in results.at_beta(beta)]]
            ]
            for cell, results in runs.items()
        }
    return frame
