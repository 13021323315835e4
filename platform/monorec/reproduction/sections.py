"""The results page's numbered sections, each a pure function of the runs' typed records."""

from __future__ import annotations

from monorec.reproduction import paper
from monorec.reproduction.format import dataset_name, dataset_of, model_of, seeds, stat, table
from monorec.reproduction.prose import fill
from monorec.reproduction.records import Runs

TOP_TAGS = 15  # Last.FM has a 50-tag vocabulary: table 1 shows the most frequent tags and those the paper names


def purity_concepts(runs: Runs, dataset: str) -> list[str]:
    """The concepts table 1 lists for a dataset (Last.FM: the most frequent tags and the paper's)."""
    cells = [c for c in runs if dataset_of(c) == dataset]
    recommender = runs[cells[0]].recommender
    counts = recommender.concept_items if recommender else {}
    named = {concept for c in cells for concept in paper.PURITY.get(c, {})}
    if dataset == "lastfm":
        top = sorted(counts, key=lambda name: (-counts[name], name))[:TOP_TAGS]
        return sorted(set(top) | (named & set(counts)))
    return sorted(counts)


def purity_section(runs: Runs) -> str:
    datasets = ""
    for dataset in dict.fromkeys(dataset_of(c) for c in runs):
        cells = [c for c in runs if dataset_of(c) == dataset]
        ks = sorted(
            {k for c in cells for r in runs[c].base() for best in r.run.mono.concepts.values() for k in best.purity}
        )
        header = ["concept"] + [f"{model_of(c)} p@{k}" for c in cells for k in ks] + ["paper"]
        rows = []
        for concept in purity_concepts(runs, dataset):
            row = [concept]
            for cell in cells:
                found = [r.run.mono.concepts.get(concept) for r in runs[cell].base()]
                row += [stat([best.purity.get(k) if best else None for best in found]) for k in ks]
            reported = [
                f"{model_of(c)} " + " / ".join(f"{v:.2f}" for v in paper.PURITY[c][concept])
                for c in cells
                if concept in paper.PURITY.get(c, {})
            ]
            rows.append([*row, "; ".join(reported) or ""])
        seen = seeds(r for c in cells for r in runs[c].base())
        datasets += f"\n\n**{dataset_name(dataset)}** (seeds {seen})\n\n{table(header, rows)}"
    return fill("purity", datasets=datasets)


def popularity_section(runs: Runs) -> str:
    rows, decades, ks, label_k = [], [], [20, 50], 20
    for cell, results in runs.items():
        base = sorted(results.base(), key=lambda r: r.seed)
        neurons = [r.run.mono.popularity_neuron for r in base]
        ks = sorted({k for neuron in neurons for k in neuron.percentile}) or ks
        reported = paper.POPULARITY_PERCENTILE.get(cell, {})
        per_seed = "; ".join(
            f"{r.seed}: " + " / ".join(f"{n.percentile[k]:.1f}" for k in ks) for r, n in zip(base, neurons)
        )
        rows.append(
            [
                cell,
                *(stat([n.percentile.get(k) for n in neurons]) for k in ks),
                per_seed,
                " / ".join(f"{v:.1f}%" for v in reported.values()),
            ]
        )
        first = results.first("relu")
        for decade, best in sorted(first.run.mono.decade_neurons.items() if first else []):
            label_k = best.k
            reported_share = paper.DECADE_SHARE.get(cell, {}).get(decade)
            decades.append(
                [cell, decade, best.neuron, f"{best.share:.2f}", f"{reported_share:.2f}" if reported_share else ""]
            )
    tops = " and ".join(f"top-{k}" for k in ks)
    decade_table = table(["cell", "decade", "neuron", f"share@{label_k}", "paper"], decades)
    return fill(
        "popularity_neurons",
        tops=tops,
        per_seed=" / ".join(f"K = {k}" for k in ks),
        table=table(["cell", *(f"percentile@{k} (%)" for k in ks), "per seed", "paper"], rows),
        decades=fill("decades", k=label_k, table=decade_table) if decades else "",
    )


def fidelity_section(runs: Runs) -> str:
    rows, first = [], None
    for cell, results in runs.items():
        for beta in results.betas():
            group = [r.run for r in results.at_beta(beta)]
            fid = [r.fidelity for r in group]
            first = first or fid[0]
            reported = paper.BETA_ABLATION.get(cell, {}).get(beta)
            rows.append(
                [
                    *(cell, f"{beta:g}", fid[0].users),
                    stat([f.rbo_truncated for f in fid]),
                    f"{reported[0]:.2f}" if reported else "",
                    stat([f.kendall_tau_ranks for f in fid]),
                    f"{reported[1]:.2f}" if reported else "",
                    stat([f.rbo_extrapolated for f in fid]),
                    stat([f.kendall_tau_scores for f in fid]),
                    stat([r.mono.ms for r in group]),
                    f"{reported[2]:.2f}" if reported else "",
                    stat([r.mono.dead_ratio for r in group]),
                    stat([f.original.ndcg for f in fid], 3),
                    stat([f.reconstructed.ndcg for f in fid], 3),
                    seeds(results.at_beta(beta)),
                ]
            )
    if first is None:
        return ""
    d, n, k = first.paper_depth, first.depth, first.original.k
    header = [
        *("cell", "beta", "report users", f"RBO truncated@{d}", "paper", f"Kendall tau (ranks)@{d}", "paper"),
        *(f"RBO extrapolated@{n}", f"Kendall tau-b (scores)@{n}", "MS", "paper", "dead ratio"),
        *(f"NDCG@{k} original", f"NDCG@{k} reconstructed", "seeds"),
    ]
    return fill("fidelity", d=d, identical=f"{1 - 0.9**d:.2f}", past=d + 1, n=n, k=k, table=table(header, rows))


def topk_section(runs: Runs) -> str:
    rows, depth = [], 29
    for cell, results in runs.items():
        for architecture, name in (("relu", "ReLU + KL (paper)"), ("topk", "TopK")):
            record = results.first(architecture)
            if record:
                run, depth = record.run, record.run.fidelity.paper_depth
                rows.append(
                    [
                        *(cell, name, f"{run.mono.dead_ratio:.2f}", f"{run.mono.ms:.2f}"),
                        *(f"{run.fidelity.rbo_truncated:.2f}", run.mono.n_labelled, record.seed),
                    ]
                )
    header = ["cell", "SAE", "dead ratio", "MS", f"RBO truncated@{depth}", "labelled neurons", "seed"]
    return fill("topk", table=table(header, rows))


def matryoshka_section(runs: Runs) -> str:
    rows, k = [], 10
    for cell, results in runs.items():
        record = results.first("matryoshka")
        for group in record.run.mono.prefixes if record else []:
            k = group.k
            labels = ", ".join(f"{label.label} ({label.purity:.2f})" for label in group.labels) or "none"
            neurons = f"{group.first}-{group.last}"
            rows.append([cell, neurons, f"{group.labelled_share:.2f}", stat([group.mean_purity]), labels])
    header = ["cell", "neurons", "labelled share", f"mean purity@{k}", f"labels (purity@{k})"]
    return fill("matryoshka", k=k, table=table(header, rows))
