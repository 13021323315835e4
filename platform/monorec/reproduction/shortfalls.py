"""Where our numbers miss the paper's, and where an intervention does nothing, said plainly on the page.

`shortfalls` checks every number that has a paper counterpart (purity, the paper's fidelity
measures, MS, the popularity and decade neurons) and every case study whose effect is absent
(it moves its measure by less than `paper.EFFECT_FLOOR`) or reversed.
"""

from __future__ import annotations

import numpy as np

from monorec.case_studies import SPECS
from monorec.reproduction import paper
from monorec.reproduction.format import dataset_of
from monorec.reproduction.prose import fill
from monorec.reproduction.records import CellRuns, Runs
from monorec.results import CaseStudies

MS_CAVEAT = "our MS uses concept vectors as the item similarity, the paper's the item embeddings"


def shortfalls(runs: Runs) -> list[str]:
    """One line per miss, cell by cell."""
    found: list[str] = []
    for cell, results in runs.items():
        found += _purity(cell, results)
        found += _fidelity(cell, results)
        found += _popularity(cell, results)
        for record in sorted(results.base(), key=lambda r: r.seed):
            found += [f"{cell} seed {record.seed}: {line}" for line in _interventions(record.run.case_studies)]
    return found


def _purity(cell: str, results: CellRuns) -> list[str]:
    found = []
    base = results.base()
    for concept, reported in paper.PURITY.get(cell, {}).items():
        for k, value in zip(paper.PURITY_K, reported):
            bests = [r.run.mono.concepts.get(concept) for r in base]
            ours = [best.purity[k] for best in bests if best is not None and k in best.purity]
            if not ours:
                found.append(f"{cell}: no {concept} concept in our data (paper purity@{k} {value:.2f})")
            elif value - np.mean(ours) > paper.PURITY_GAP:
                found.append(
                    f"{cell}: {concept} purity@{k} {np.mean(ours):.2f} against the paper's {value:.2f}"
                    f" ({_carriers(results, concept)})"
                )
    return found


def _fidelity(cell: str, results: CellRuns) -> list[str]:
    found = []
    for beta, (rbo, tau, ms) in paper.BETA_ABLATION.get(cell, {}).items():
        group = [r.run for r in results.at_beta(beta)]
        if not group:
            continue
        depth = group[0].fidelity.paper_depth
        ours = {
            f"truncated RBO@{depth}": (np.mean([r.fidelity.rbo_truncated for r in group]), rbo, paper.RBO_GAP, ""),
            f"Kendall tau (ranks)@{depth}": (
                np.mean([r.fidelity.kendall_tau_ranks for r in group]),
                tau,
                paper.TAU_GAP,
                "",
            ),
            "MS": (np.mean([r.mono.ms for r in group]), ms, paper.MS_GAP, f" ({MS_CAVEAT})"),
        }
        for name, (value, reported, gap, note) in ours.items():
            if reported - value > gap:
                found.append(f"{cell}: {name} at beta {beta:g} {value:.2f} against the paper's {reported:.2f}{note}")
    return found


def _popularity(cell: str, results: CellRuns) -> list[str]:
    found = []
    neurons = [(r.seed, r.run.mono.popularity_neuron) for r in sorted(results.base(), key=lambda r: r.seed)]
    for k, reported in paper.POPULARITY_PERCENTILE.get(cell, {}).items():
        values = [(seed, n.percentile[k]) for seed, n in neurons if k in n.percentile]
        worst = max((v for _, v in values), default=None)
        if worst is not None and worst - reported > paper.POPULARITY_GAP:
            per_seed = ", ".join(f"seed {seed} {v:.1f}%" for seed, v in values)
            mean = np.mean([v for _, v in values])
            found.append(
                f"{cell}: popularity neuron percentile@{k} {mean:.1f}% on average ({per_seed}) against the "
                f"paper's {reported:.1f}%"
            )
    first = results.first("relu")
    for decade, reported in paper.DECADE_SHARE.get(cell, {}).items():
        best = first.run.mono.decade_neurons.get(decade) if first else None
        if best is None or reported - best.share > paper.PURITY_GAP:
            share = f"{best.share:.2f}" if best else "no neuron"
            found.append(f"{cell}: {decade} neuron share {share} against the paper's {reported:.2f}")
    return found


def _interventions(studies: CaseStudies) -> list[str]:
    """Case studies whose calibrated effect is absent or goes the wrong way.

    Absent: it moves the measure by less than paper.EFFECT_FLOOR and by less than
    paper.RELATIVE_EFFECT_FLOOR of where it started (0.03 → 0.07 is small but more than doubles).
    """
    found = []
    for name, spec in SPECS.items():
        study = studies.get(name)
        if study is None:
            continue
        before, after = study.before.effect, study.calibration.report.effect
        gain = before - after if spec.lower_is_better else after - before
        relative = gain / before if before > 0 else gain
        if gain < paper.EFFECT_FLOOR and relative < paper.RELATIVE_EFFECT_FLOOR:
            verdict = "reversed" if gain < 0 else "absent"
            found.append(
                f"{name} ({study.subject}) {verdict}: {study.measure.replace('_', ' ')} {before:.2f} → {after:.2f} "
                f"at strength {study.calibration.report.strength:.2f}"
            )
    return found


def _carriers(cell: CellRuns, concept: str) -> str:
    """How many items carry the concept: purity@K cannot exceed that count over K."""
    recommender = cell.recommender
    carriers = recommender.concept_items.get(concept, 0) if recommender else 0
    n_items = recommender.run.dataset.n_items if recommender else "?"
    return f"{carriers} of {n_items} items carry it"


def lastfm_note(runs: Runs) -> str:
    """Last.FM's data and concepts differ from the paper's: say how, and how many artists and tags we keep."""
    cell = next((results for name, results in runs.items() if dataset_of(name) == "lastfm"), None)
    if cell is None or cell.recommender is None:
        return ""
    recommender = cell.recommender
    counts = recommender.concept_items
    named = sorted({c for name in paper.PURITY if dataset_of(name) == "lastfm" for c in paper.PURITY[name]})
    present = ", ".join(f"{c} {counts[c]}" for c in named if c in counts)
    absent = ", ".join(c for c in named if c not in counts)
    return fill(
        "lastfm_data",
        paper_data=paper.PAPER_DATA["lastfm"],
        artists=recommender.run.dataset.n_items,
        tags=len(counts),
        present=present,
        absent=f"; not in our tag vocabulary: {absent}" if absent else "",
    )


def shortfalls_section(runs: Runs) -> str:
    found = shortfalls(runs)
    listing = "\n".join(f"- {line}" for line in found) if found else "None."
    return fill(
        "shortfalls",
        purity_gap=f"{paper.PURITY_GAP * 100:.0f}",
        rbo_gap=f"{paper.RBO_GAP:g}",
        tau_gap=f"{paper.TAU_GAP:g}",
        ms_gap=f"{paper.MS_GAP:g}",
        popularity_gap=f"{paper.POPULARITY_GAP:g}",
        effect_floor=f"{paper.EFFECT_FLOOR:g}",
        relative_floor=f"{paper.RELATIVE_EFFECT_FLOOR:.0%}",
        listing=listing,
        lastfm=lastfm_note(runs),
    )
