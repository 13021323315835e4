"""The sequential cells' own section: the order their splits rest on, and monorec's SASRec beside a peer's.

A leave-last-out split decides many test items by its tie rule (docs/method.md §1b): the first
table gives, per dataset, the share of timestamped rows that share their second with another row
of the same user and the share of tested users whose last two rows do. The second is
`benchmarks/bench_sequential.py`'s output, kept with the metrics as `sequential_bench.json`:
monorec's SASRec, RePlay's, MF and ALS on one split, each scored by monorec's evaluator.
"""

from __future__ import annotations

from monorec.reproduction.format import dataset_name, dataset_of, table
from monorec.reproduction.prose import fill
from monorec.reproduction.records import Runs

SEQUENTIAL_BENCH = "sequential_bench.json"
BENCH_DATASETS = {"ml100k": "ml100k_sequences", "ml1m_timestamped": "ml1m_sequences"}  # data.name -> page dataset


def sequential_section(runs: Runs, bench: dict | None) -> str:
    tied = {}
    for cell, results in runs.items():
        recommender = results.recommender
        if recommender is not None and recommender.run.dataset.ties is not None:
            tied[dataset_of(cell)] = (recommender.run.dataset, recommender.run.training.epochs)
    if not tied and bench is None:
        return ""
    rows = [
        [dataset_name(d), summary.n_test_users, f"{summary.ties.rows:.2f}", f"{summary.ties.last_two:.2f}", epochs]
        for d, (summary, epochs) in tied.items()
    ]
    header = ["dataset", "tested users", "rows tied with another", "users whose last two tie", "SASRec epochs"]
    ties = table(header, rows)
    return fill("sequential", ties=ties, peers=_peer_tables(bench) if bench is not None else "")


def _peer_tables(bench: dict) -> str:
    parts = []
    for result in bench["results"]:
        rows = [
            [name, f"{m['ndcg@10']:.4f}", f"{m['hr@10']:.4f}", f"{m['train_seconds']:.0f} s", m["epochs"]]
            for name, m in result["models"].items()
        ]
        header = ["model", "NDCG@10", "HR@10", "training", "epochs"]
        dataset = dataset_name(BENCH_DATASETS.get(result["dataset"], result["dataset"]))
        parts.append(
            fill(
                "sequential_peer",
                dataset=dataset,
                table=table(header, rows),
                ndcg_ratio=f"{result['ndcg_ratio_to_replay']:.2f}",
                time_ratio=f"{result['train_time_ratio_to_replay']:.2f}",
                threads=bench["torch_threads"],
            )
        )
    return "".join(f"\n\n{part}" for part in parts)
