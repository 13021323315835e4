"""The page's section on the fidelity gap to the paper, from `results/ablation/` (`jobs/ablate.py`).

It answers four questions with the ablation's records and the copied front of the search on the
paper's measures (`results/tune_paper/pareto.json`): which difference from the paper's notebooks
moves fidelity and by how much (and whether one configuration reaches the paper at beta 0.1 and
1), how far a search on the paper's own measures gets, what the paper's Kendall tau measures,
and whether SAEs with a matrix frozen at random match the trained one (the random-SAE check).
Every number is computed from the records or, for the Kendall tau examples, by the same
function that measures fidelity.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from monorec.reproduction import paper
from monorec.reproduction.format import model_of, stat, table
from monorec.reproduction.front import front_section
from monorec.reproduction.kendall import kendall_explained
from monorec.reproduction.prose import fill
from monorec.reproduction.records import (
    ABLATION,
    ELAPSED,
    NOTEBOOK,
    PURE,
    SHIPPED,
    AblationCell,
    Elapsed,
    Runs,
    genres_found,
    load_ablation,
)
from monorec.reproduction.sanity import sanity_section
from monorec.results import Fidelity, from_json
from monorec.storage import read_json

REACHED = 0.05  # the stop rule: within this of the paper's truncated RBO and Kendall tau ...
RULE_BETAS = (0.1, 1.0)  # ... at both of these betas
ROLES = {
    "shipped": "monorec's defaults",
    "difference": "one notebook difference",
    "notebook": "every notebook difference",
    "extra": "beyond the notebooks",
    "sanity": "random-SAE check",
}


def gap_section(results_dir: Path, runs: Runs) -> str:
    cells = load_ablation(results_dir)
    if not cells:
        return ""
    return fill(
        "gap",
        run_time=_run_time(cells, results_dir),
        cells="\n\n".join(_cell_table(cell, ablation) for cell, ablation in cells.items()),
        verdict=stop_rule_verdict(cells),
        front=front_section(results_dir),
        kendall=kendall_explained(runs),
        sanity=sanity_section(cells),
    )


def _run_time(cells: dict[str, AblationCell], results_dir: Path) -> str:
    seconds: dict[str, float] = {}
    for ablation in cells.values():
        records = [*ablation.recommenders.values(), *(r for rs in ablation.arms.values() for r in rs)]
        for record in records:
            seconds[record.machine] = seconds.get(record.machine, 0.0) + record.wall_seconds
    times = ", ".join(f"{total / 60:.1f} min on a {machine}" for machine, total in sorted(seconds.items()))
    text = f"Run time of the ablation and the random-SAE check together: the sum of every run's wall time is {times}"
    path = results_dir / ABLATION / ELAPSED
    if path.is_file():
        invocations = [from_json(Elapsed, values, str(path)) for values in read_json(path)]
        text += "; from start to end, " + ", then ".join(
            f"{e.seconds / 60:.1f} min for {e.runs} runs (`--workers {e.workers}`, {e.machine})" for e in invocations
        )
    return text + "."


def _paper_at(beta: float) -> tuple[float, float] | None:
    reported = paper.BETA_ABLATION["ml1m_mf"].get(beta)
    return (reported[0], reported[1]) if reported else None


def _cell_table(cell: str, ablation: AblationCell) -> str:
    shipped = ablation.arm(SHIPPED)
    base = shipped[0] if shipped else None
    rows = []
    for name in [SHIPPED, *ablation.named("difference"), NOTEBOOK, *ablation.named("extra")]:
        records = ablation.arm(name)
        if not records:
            continue
        fid = [r.run.fidelity for r in records]
        beta = records[0].beta
        reported = _paper_at(beta) if cell == "ml1m_mf" else None
        moved = (
            f"{records[0].run.fidelity.rbo_truncated - base.run.fidelity.rbo_truncated:+.2f}"
            if base is not None and name != SHIPPED
            else ""
        )
        mono = [r.run.mono for r in records]
        rows.append(
            [
                name,
                ROLES[records[0].group],
                ", ".join(str(r.seed) for r in records),
                f"{beta:g}",
                stat([f.rbo_truncated for f in fid]),
                moved,
                stat([f.kendall_tau_ranks for f in fid]),
                f"{reported[0]:.2f} / {reported[1]:.2f}" if reported else "",
                stat([genres_found(r) for r in records], 1),
                stat([m.ms for m in mono]),
                stat([m.firing_rate for m in mono]),
                stat([m.mean_activation for m in mono], 3),
            ]
        )
    header = [
        *("arm", "what", "seeds", "beta", "RBO truncated", "vs shipped (seed 0)", "Kendall tau (ranks)"),
        "paper RBO / tau",
        *(f"genres at p@10 >= {PURE}", "MS", "firing rate", "mean activation"),
    ]
    shares = [
        f"{name}: {record.bias_share:.2f}"
        for name, record in ablation.recommenders.items()
        if record.bias_share is not None
    ]
    bias_shares = (
        "\n\nShare of each report user's score variance across items that the item biases carry (mean over "
        "users of var(b_i) / var(score)): " + "; ".join(shares) + "."
        if shares
        else ""
    )
    return fill("gap_cell", model=model_of(cell), cell=cell, table=table(header, rows), bias_shares=bias_shares)


def stop_rule_verdict(cells: dict[str, AblationCell]) -> str:
    """The stop rule (within 0.05 of the paper's RBO and tau at beta 0.1 and at beta 1, on every seed), and
    which notebook difference moved fidelity most."""
    mf = cells.get("ml1m_mf")
    if mf is None:
        return ""
    within: dict[float, list[str]] = {beta: [] for beta in RULE_BETAS}
    families: dict[str | None, dict[float, str]] = {}
    standing = []
    for name, records in sorted(mf.arms.items()):
        beta, reported = records[0].beta, _paper_at(records[0].beta)
        if len(records) < 2 or reported is None:
            continue
        rbo = float(np.mean([r.run.fidelity.rbo_truncated for r in records]))
        tau = float(np.mean([r.run.fidelity.kendall_tau_ranks for r in records]))
        standing.append(f"{name} at beta {beta:g}: {rbo:.2f} / {tau:.2f} against {reported[0]:.2f} / {reported[1]:.2f}")
        if beta in within and abs(rbo - reported[0]) <= REACHED and abs(tau - reported[1]) <= REACHED:
            within[beta].append(name)
            families.setdefault(records[0].family, {})[beta] = name
    met = [arms for family, arms in families.items() if family is not None and set(arms) == set(RULE_BETAS)]
    text = "**Verdict (ML-1M MF).** "
    rule = (
        f"the stop rule asks for one configuration within {REACHED:g} of the paper's truncated RBO and Kendall tau "
        "at beta 0.1 and at beta 1, on every seed"
    )
    if met:
        text += f"**Reproduced**: {rule}, and " + "; ".join(" and ".join(arms.values()) for arms in met) + " are one."
    else:
        text += f"**The paper's fidelity was not reproduced**: {rule}, and no configuration is. Within it at one beta: "
        text += "; ".join(f"beta {beta:g}: {', '.join(names) or 'none'}" for beta, names in within.items()) + "."
    text += " Every configuration run on every seed (RBO / tau, ours against the paper's): " + "; ".join(standing) + "."
    base = mf.arm(SHIPPED)
    moves = [
        (records[0].run.fidelity.rbo_truncated - base[0].run.fidelity.rbo_truncated, name, records[0].run.fidelity)
        for name, records in mf.arms.items()
        if base and records[0].group == "difference"
    ]
    if moves:
        shipped = base[0].run.fidelity
        largest, closest = max(moves, key=lambda move: abs(move[0])), max(moves, key=lambda move: move[0])
        text += f" Of the notebook differences, the one that moved fidelity most is {_move(largest, shipped)}"
        if closest[1] != largest[1] and closest[0] > 0:
            text += f"; the one that brought it closest to the paper is {_move(closest, shipped)}"
        text += " (seed 0)."
    return text


def _move(move: tuple[float, str, Fidelity], shipped: Fidelity) -> str:
    delta, name, first = move
    return (
        f"`{name}`: truncated RBO {shipped.rbo_truncated:.2f} -> {first.rbo_truncated:.2f} ({delta:+.2f}), "
        f"Kendall tau {shipped.kendall_tau_ranks:.2f} -> {first.kendall_tau_ranks:.2f}"
    )
