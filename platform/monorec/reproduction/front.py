"""The search on the paper's own measures (`configs/tune_paper.yaml`), from its copied `pareto.json`."""

from __future__ import annotations

from pathlib import Path

from monorec.reproduction import paper
from monorec.reproduction.format import table
from monorec.reproduction.prose import fill
from monorec.results import ParetoFront, read_result

TUNE_PAPER = "tune_paper"  # results/tune_paper/: pareto.json and the figure, copied from the search's output
PARETO, FIGURE = "pareto.json", "pareto_paper.png"  # the names `monorec.tune.front` writes
PARAMS = ("alpha", "beta", "lambda2", "rho")


def front_section(results_dir: Path) -> str:
    path = results_dir / TUNE_PAPER / PARETO
    if not path.is_file():
        return "The search on the paper's own measures (configs/tune_paper.yaml) has no results here yet."
    front = read_result(ParetoFront, path)
    rows = [
        [
            *(f"{point.params.get(name, float('nan')):.3g}" for name in PARAMS),
            *(f"{point.validation.fidelity:.2f}", f"{point.validation.monosemanticity:.2f}"),
            *(f"{point.rbo_truncated:.2f}", f"{point.kendall_tau_ranks:.2f}", f"{point.ms:.2f}", point.pure_genres),
        ]
        for point in front.points
    ]
    header = [
        *PARAMS,
        *(f"validation RBO ({front.fidelity})", f"validation {front.monosemanticity}"),
        *(f"RBO truncated@{front.paper_depth}", "Kendall tau", "MS", f"genres at p@10 >= {front.pure_at:g}"),
    ]
    paper_beta, (paper_rbo, _, _) = max(paper.BETA_ABLATION["ml1m_mf"].items(), key=lambda item: item[1][0])
    best = max(front.points, key=lambda point: point.rbo_truncated)
    return fill(
        "front",
        report_users=front.report_users,
        table=table(header, rows),
        best_rbo=f"{best.rbo_truncated:.2f}",
        best_tau=f"{best.kendall_tau_ranks:.2f}",
        paper_rbo=f"{paper_rbo:.2f}",
        paper_beta=f"{paper_beta:g}",
        figure=f"{TUNE_PAPER}/{FIGURE}",
    )
