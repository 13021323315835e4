"""The results page's interventions section: filtering, promotion and popularity control per cell."""

from __future__ import annotations

from monorec.reproduction.format import table
from monorec.reproduction.records import Runs


def interventions_section(runs: Runs) -> str:
    filtering, promotion, popularity = [], [], []
    filter_k = promote_k = popularity_k = 0
    for cell, results in runs.items():
        record = results.first("relu")
        if record is None:
            continue
        studies = record.run.steering
        if (f := studies.filtering) is not None:
            filter_k = f.k
            share = f"{f.share_before:.2f} → {f.share_after:.2f}"
            filtering.append([cell, f.concept, f.users, share, f"{f.collateral_rbo:.2f}"])
        if (p := studies.promotion) is not None:
            promote_k = p.k
            promotion.append(
                [
                    *(cell, f"{p.item} ({p.concept})", f"{', '.join(p.audiences)} ({p.users})"),
                    f"{p.median_rank_before:.0f} → {p.median_rank_after:.0f}",
                    *(f"{p.in_top_before:.2f} → {p.in_top_after:.2f}", f"{p.collateral_rbo:.2f}"),
                ]
            )
        if (q := studies.popularity) is not None:
            popularity_k = q.k
            popularity.append(
                [
                    *(cell, q.users, f"{q.long_tail_share_before:.2f} → {q.long_tail_share_after:.2f}"),
                    *(f"{q.mean_percentile_before:.1f} → {q.mean_percentile_after:.1f}", f"{q.collateral_rbo:.2f}"),
                ]
            )
    promotion_header = ["cell", "item", "audience (users)", "median rank", f"share with it in top-{promote_k}"]
    popularity_header = [
        *("cell", "users", f"long-tail share in top-{popularity_k}"),
        *(f"mean popularity percentile of top-{popularity_k}", "collateral RBO"),
    ]
    return "\n".join(
        [
            "## 6. Interventions (seed 0, no retraining)",
            "",
            "Collateral RBO: agreement of each top-K list before and after the edit, over the items the edit "
            "did not target (1 = the rest of the list kept its order).",
            "",
            "**Filtering**: suppress the concept's best neuron for the 50 test users whose top-10 holds the most "
            "of it.",
            "",
            table(["cell", "concept", "users", f"concept share in top-{filter_k}", "collateral RBO"], filtering),
            "",
            "**Promotion**: set the item's concept neuron to twice its largest item activation, for the test "
            "users whose most frequent concept is one of the audience's (users who already had the item are left out).",
            "",
            table([*promotion_header, "collateral RBO"], promotion)
            if promotion
            else "No cell has the promoted concept (Folk is a Last.FM tag).",
            "",
            "**Popularity control**: suppress the popularity neuron for every test user; long tail = items "
            "outside the 20% most popular.",
            "",
            table(popularity_header, popularity),
        ]
    )
