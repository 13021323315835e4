"""Serving throughput and latency on loopback, measured with `hey` (benchmarks/hey.py).

    MONOREC_DATA_DIR=../shared/data python benchmarks/bench_serve.py [--seconds 10] [--bundle DIR | --run DIR]

Builds the bundle with the train_sae pipeline (configs/ml1m_mf.yaml, or `--config`) unless
`--bundle` gives one or `--run` names a finished SAE run folder (its recommender in `recommender/`
beside or inside it, as the reproduction leaves them), starts the Serve app (--replicas, default
2; Ray Serve's throughput mode unless the environment turns it off, see serve/throughput.py) on a
free loopback port, and sends `hey` loads to /recommend: a known user without an intervention,
with one neuron edit at a given strength, with one concept direction edit (every neuron carrying
Horror, weighted), with one given a target instead (calibrated on the validation users once, then
cached), and a user given by a 50-item history instead of an id (read or folded in per request)
with one neuron edit; at 1, 16 and 64 concurrent clients (`--clients`), `--seconds` each, after a
2-second warm-up per load, in `--repeats` turns (every load once per turn; each load reports its
median turn, since this machine's speed drifts within minutes). `hey` repeats one body, so each
load is one user (the bundle's first) or one history. Prints one JSON object whose summary gives
each load's p99 at 16 clients (target `P99_TARGET_MS`), what calibration adds, and the history
load's requests/s over the known user's. `--loads` picks loads by name.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import socket
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from hey import hey_binary, hey_load  # noqa: E402  (benchmarks/hey.py, beside this script)

from monorec.config import ExperimentConfig, load_config  # noqa: E402

INTERVENTION = [{"neuron": "Horror", "op": "suppress", "strength": 1.0, "tower": "both"}]
DIRECTION = [{"concept": "Horror", "op": "suppress", "strength": 1.0, "tower": "both"}]
P99_TARGET_MS = 50.0
HISTORY_LENGTH = 50
TARGET = {"measure": "concept_share", "k": 10, "at_most": 0.1, "concept": "Horror"}
CALIBRATED = [{"neuron": "Horror", "op": "suppress", "tower": "user", "target": TARGET}]  # strength found per target


def build_bundle(folder: Path, config_path: Path) -> Path:
    """Train the recommender and SAE of `config_path` in `folder`, then bundle them."""
    from monorec.pipeline import run_sae

    run_sae(load_config(ExperimentConfig, config_path), folder / "run")
    return bundle_run(folder / "run", folder / "bundle")


def bundle_run(run: Path, bundle: Path) -> Path:
    """The bundle of a finished SAE run: its config, SAE and neurons, and the recommender it explained."""
    import pandas as pd

    from monorec.bundle import BundleSource, write_bundle
    from monorec.config.model import upgrade_keys
    from monorec.data import load_split
    from monorec.pipeline import METRICS, RECOMMENDER_DIR
    from monorec.recommenders import load_recommender
    from monorec.results import SAERun, read_result
    from monorec.sae import load_sae
    from monorec.storage import read_json
    from monorec.typed import from_dict

    recommender_dir = next((d for d in (run / RECOMMENDER_DIR, run.parent / RECOMMENDER_DIR) if d.is_dir()), None)
    if recommender_dir is None:
        raise SystemExit(f"{run}: no {RECOMMENDER_DIR}/ inside it or beside it")
    config = from_dict(ExperimentConfig, upgrade_keys(read_json(run / "config.json")))
    data, split = load_split(config.data)
    recommender, _ = load_recommender(recommender_dir)
    sae, _ = load_sae(run)
    neurons = pd.read_csv(run / "neurons.csv")
    metrics = read_result(SAERun, run / METRICS)
    return write_bundle(bundle, BundleSource(recommender, sae, neurons, data, split, config, metrics))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--bundle", type=Path, default=None, help="a bundle folder to serve")
    source.add_argument("--run", type=Path, default=None, help="a finished SAE run folder to bundle and serve")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", default="1,16,64", help="comma-separated client counts")
    parser.add_argument("--repeats", type=int, default=3, help="turns of every load; each reports its median turn")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "ml1m_mf.yaml")
    parser.add_argument("--loads", default=None, help="comma-separated load names (default: all)")
    args = parser.parse_args()
    hey_binary()  # before any training: no hey, no benchmark
    from serve.throughput import THROUGHPUT_ENV, enable_throughput_mode

    enable_throughput_mode()
    os.environ["MONOREC_API_TOKEN"] = token = secrets.token_hex(16)  # as served for real: behind a token
    import ray
    from ray import serve

    from monorec.bundle import read_bundle
    from serve.app import MonorecService

    clients = [int(n) for n in args.clients.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        if args.bundle:
            bundle = args.bundle
        elif args.run:
            bundle = bundle_run(args.run, Path(tmp) / "bundle")
        else:
            bundle = build_bundle(Path(tmp), args.config)
        served = read_bundle(bundle)
        user = _plain(served.user_ids[0])
        item_ids = [_plain(i) for i in served.items["item_id"]]
        history = [item_ids[(j * 61) % len(item_ids)] for j in range(HISTORY_LENGTH)]  # 50 distinct items
        loads = {
            "no_intervention": {"user_id": user, "k": 10, "interventions": []},
            "one_intervention": {"user_id": user, "k": 10, "interventions": INTERVENTION},
            "one_direction": {"user_id": user, "k": 10, "interventions": DIRECTION},
            "calibrated": {"user_id": user, "k": 10, "interventions": CALIBRATED},
            "history_one_intervention": {"history": history, "k": 10, "interventions": INTERVENTION},
        }
        chosen = args.loads.split(",") if args.loads else list(loads)
        if unknown := sorted(set(chosen) - set(loads)):
            parser.error(f"unknown loads {unknown}; there are {', '.join(loads)}")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        ray.init(log_to_driver=False)
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        deployment = MonorecService.options(num_replicas=args.replicas)
        serve.run(deployment.bind(None, str(bundle)), name="monorec", route_prefix="/")
        url = f"http://127.0.0.1:{port}/recommend"
        runs: dict[str, list[dict]] = {}
        for label in chosen:  # warm-up (and the one calibration)
            hey_load(url, loads[label], max(clients), 2.0, token)
        for _ in range(args.repeats):  # the loads take turns, so a slow spell of the machine hits them alike
            for label in chosen:
                for count in clients:
                    turn = hey_load(url, loads[label], count, args.seconds, token)
                    runs.setdefault(f"{label}@{count}", []).append(turn)
        results = {name: median_run(found) for name, found in runs.items()}
        print(
            json.dumps(
                {
                    "machine": {"processor": platform.processor() or "cpu", "cpu_count": os.cpu_count()},
                    "load_generator": "hey",
                    "source": _source_name(args.bundle or args.run, args.config),
                    "kind": served.recommender.kind,
                    "replicas": args.replicas,
                    "serve_env": {
                        name: os.environ.get(name) for name in [*THROUGHPUT_ENV, "RAY_SERVE_HAPROXY_NBTHREAD"]
                    },
                    "seconds_per_load": args.seconds,
                    "repeats": args.repeats,
                    "results": results,
                    "summary": summarize(results),
                },
                indent=2,
            ),
            flush=True,  # before shutting Ray down, which has hung here once in Serve's controller
        )
        ray.shutdown()  # Serve's applications go with it


def _source_name(folder: Path | None, config: Path) -> str:
    """What was served, without this machine's paths: the config, or the folder's last two names."""
    return config.name if folder is None else f"{folder.parent.name}/{folder.name}"


def median_run(runs: list[dict]) -> dict:
    """The turn with the median requests/s, with every turn's rate beside it."""
    ordered = sorted(runs, key=lambda run: run["throughput_rps"])
    return {**ordered[(len(ordered) - 1) // 2], "throughput_rps_turns": [run["throughput_rps"] for run in runs]}


def summarize(results: dict[str, dict]) -> dict:
    """Each edited load's p99 at 16 clients, what calibration adds, and history against a known user."""
    at16 = {label.removesuffix("@16"): result for label, result in results.items() if label.endswith("@16")}
    summary: dict[str, float] = {"p99_target_ms": P99_TARGET_MS}
    for label in ("one_intervention", "one_direction", "calibrated", "history_one_intervention"):
        if label in at16:
            summary[f"{label}_p99_ms_at_16"] = at16[label]["p99_ms"]
    if "calibrated" in at16 and "one_intervention" in at16:
        summary["calibration_adds_p99_ms_at_16"] = at16["calibrated"]["p99_ms"] - at16["one_intervention"]["p99_ms"]
    if "history_one_intervention" in at16 and "no_intervention" in at16:
        known = at16["no_intervention"]["throughput_rps"]
        summary["history_over_known_rps_at_16"] = at16["history_one_intervention"]["throughput_rps"] / known
    return summary


def _plain(value: object) -> object:
    return value.item() if hasattr(value, "item") else value


if __name__ == "__main__":
    main()
