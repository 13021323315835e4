"""The results page's numbered sections, each a pure function of the runs' typed records."""

from __future__ import annotations

from monorec.reproduction import paper
from monorec.reproduction.format import dataset_name, dataset_of, model_of, seeds, stat, table
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
    parts = [
        "## 1. Semantic purity of each concept's best neuron",
        "",
        "Purity@K: share of the neuron's K most activating items that carry the concept; the best "
        "neuron per concept, as in the paper. Paper: K = 10 / 20 / 50.",
    ]
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
        parts += ["", f"**{dataset_name(dataset)}** (seeds {seen})", "", table(header, rows)]
    return "\n".join(parts)


def popularity_section(runs: Runs) -> str:
    rows, decades, ks = [], [], []
    for cell, results in runs.items():
        base = results.base()
        neurons = [r.run.mono.popularity_neuron for r in base]
        ks = sorted({k for neuron in neurons for k in neuron.percentile}) or ks
        reported = paper.POPULARITY_PERCENTILE.get(cell, {})
        rows.append(
            [
                cell,
                *(stat([n.percentile.get(k) for n in neurons]) for k in ks),
                " / ".join(f"{v:.1f}%" for v in reported.values()),
                seeds(base),
            ]
        )
        first = results.first("relu")
        for decade, best in sorted(first.run.mono.decade_neurons.items() if first else []):
            reported_share = paper.DECADE_SHARE.get(cell, {}).get(decade)
            decades.append(
                [cell, decade, best.neuron, f"{best.share:.2f}", f"{reported_share:.2f}" if reported_share else ""]
            )
    label_k = ks[0] if ks else 20
    parts = [
        "## 2. Popularity and decade neurons",
        "",
        "Popularity neuron: mean popularity percentile (0% = the most popular item) of its "
        + " and ".join(f"top-{k}" for k in ks)
        + " items. Paper: ML-1M MF about 2.5% (K = 20) to 4% (K = 50).",
        "",
        table(["cell", *(f"percentile@{k} (%)" for k in ks), "paper", "seeds"], rows),
    ]
    if decades:
        parts += [
            "",
            f"Decade neurons (the best neuron per decade, seed 0): share of its top-{label_k} items from that "
            'decade. Paper: a "90s Action" neuron with about 95% of its top items from the 1990s.',
            "",
            table(["cell", "decade", "neuron", f"share@{label_k}", "paper"], decades),
        ]
    return "\n".join(parts)


def beta_section(runs: Runs) -> str:
    rows, depth, k = [], 20, 10
    for cell, results in runs.items():
        for beta in results.betas():
            group = [r.run for r in results.at_beta(beta)]
            depth, k = group[0].fidelity.depth, group[0].fidelity.original.k
            reported = paper.BETA_ABLATION.get(cell, {}).get(beta)
            rows.append(
                [
                    cell,
                    f"{beta:g}",
                    stat([r.fidelity.rbo for r in group]),
                    stat([r.fidelity.kendall_tau for r in group]),
                    stat([r.mono.ms for r in group]),
                    stat([r.mono.dead_ratio for r in group]),
                    stat([r.fidelity.original.ndcg for r in group], 3),
                    stat([r.fidelity.reconstructed.ndcg for r in group], 3),
                    " / ".join(f"{v:.2f}" for v in reported) if reported else "",
                    seeds(results.at_beta(beta)),
                ]
            )
    header = [
        *("cell", "beta", f"RBO@{depth}", f"Kendall tau@{depth}", "MS", "dead ratio"),
        *(f"NDCG@{k} original", f"NDCG@{k} reconstructed", "paper RBO / tau / MS", "seeds"),
    ]
    return "\n".join(
        [
            "## 3. Effect of beta (the prediction-aware loss)",
            "",
            f"Fidelity of the reconstructed embeddings' top-{depth} to the recommender's own (RBO p = 0.9, Kendall "
            "tau), monosemanticity (MS, Pach et al., over concept vectors), dead-neuron ratio, and "
            f"NDCG@{k} on held-out positives with the original and the reconstructed embeddings.",
            "",
            table(header, rows),
        ]
    )


def topk_section(runs: Runs) -> str:
    rows, depth = [], 20
    for cell, results in runs.items():
        for kind, name in (("relu", "ReLU + KL (paper)"), ("topk", "TopK")):
            record = results.first(kind)
            if record:
                run, depth = record.run, record.run.fidelity.depth
                rows.append(
                    [
                        *(cell, name, f"{run.mono.dead_ratio:.2f}", f"{run.mono.ms:.2f}"),
                        *(f"{run.fidelity.rbo:.2f}", run.mono.n_labelled, record.seed),
                    ]
                )
    return "\n".join(
        [
            "## 4. KL sparsity versus the TopK baseline",
            "",
            "Same recommender, beta and seed; TopK keeps the k = 20% of m largest pre-activations per vector.",
            "",
            table(["cell", "SAE", "dead ratio", "MS", f"RBO@{depth}", "labelled neurons", "seed"], rows),
        ]
    )


def matryoshka_section(runs: Runs) -> str:
    rows, k = [], 10
    for cell, results in runs.items():
        record = results.first("matryoshka")
        for group in record.run.mono.prefixes if record else []:
            k = group.k
            labels = ", ".join(f"{label.label} ({label.purity:.2f})" for label in group.labels) or "none"
            neurons = f"{group.first}-{group.last}"
            rows.append([cell, neurons, f"{group.labelled_share:.2f}", stat([group.mean_purity]), labels])
    return "\n".join(
        [
            "## 5. Matryoshka SAE: broad concepts first",
            "",
            "Nested prefixes at a quarter, half and all of m; each row is the neurons a prefix adds, with their "
            f"automatic labels and each label's purity@{k} (seed 0). Broad concepts should sit in the first prefix.",
            "",
            table(["cell", "neurons", "labelled share", f"mean purity@{k}", f"labels (purity@{k})"], rows),
        ]
    )
