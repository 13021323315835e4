"""Serving latency and throughput on loopback for an ML-1M MF bundle.

    MONOREC_DATA_DIR=../shared/data python benchmarks/bench_serve.py [--seconds 10] [--bundle DIR]

Builds the bundle with the train_sae pipeline (configs/ml1m_mf.yaml) unless --bundle is given,
starts the Serve app (--replicas, default 2; Ray Serve's throughput mode unless the environment
turns it off, see serve/throughput.py) on a free loopback port, and runs a closed-loop load of
/recommend without an intervention, with one neuron edit at a given strength, with one concept
direction edit (every neuron carrying Horror, weighted), with one given a target instead
(calibrated on the validation users once, then cached), and with one neuron edit for a user
given by a 50-item history instead of an id (folded in per request), at 1, 16 and 64 concurrent
clients (each load bounded to --seconds and --requests). Prints one JSON object whose summary
gives each load's p99 at 16 clients (target `P99_TARGET_MS`) and what calibration adds.
`--config` builds the bundle from another experiment config (configs/ml1m_ncf.yaml: NCF, whose
fold-in takes gradient steps); `--loads` picks loads by name.
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

from monorec.config import ExperimentConfig, load_config  # noqa: E402

CLIENTS = (1, 16, 64)
INTERVENTION = [{"neuron": "Horror", "op": "suppress", "strength": 1.0, "tower": "both"}]
DIRECTION = [{"concept": "Horror", "op": "suppress", "strength": 1.0, "tower": "both"}]
P99_TARGET_MS = 50.0
HISTORY_LENGTH = 50
TARGET = {"measure": "concept_share", "k": 10, "at_most": 0.1, "concept": "Horror"}
CALIBRATED = [{"neuron": "Horror", "op": "suppress", "tower": "user", "target": TARGET}]  # strength found per target


def build_bundle(folder: Path, config_path: Path) -> Path:
    from monorec.bundle import BundleSource, write_bundle
    from monorec.data import load_split
    from monorec.pipeline import run_sae
    from monorec.recommenders import load_recommender
    from monorec.sae import load_sae

    config = load_config(ExperimentConfig, config_path)
    metrics = run_sae(config, folder / "run")
    data, split = load_split(config.data)
    recommender, _ = load_recommender(folder / "run" / "recommender")
    sae, _ = load_sae(folder / "run")
    import pandas as pd

    neurons = pd.read_csv(folder / "run" / "neurons.csv")
    return write_bundle(folder / "bundle", BundleSource(recommender, sae, neurons, data, split, config, metrics))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "ml1m_mf.yaml")
    parser.add_argument("--loads", default=None, help="comma-separated load names (default: all)")
    args = parser.parse_args()
    from serve.throughput import THROUGHPUT_ENV, enable_throughput_mode

    enable_throughput_mode()
    os.environ["MONOREC_API_TOKEN"] = token = secrets.token_hex(16)  # as served for real: behind a token
    headers = {"Authorization": f"Bearer {token}"}
    import ray
    from ray import serve

    from serve.app import MonorecService
    from serve.loadgen import run_load

    with tempfile.TemporaryDirectory() as tmp:
        bundle = args.bundle or build_bundle(Path(tmp), args.config)
        from monorec.bundle import read_bundle

        item_ids = [_plain(i) for i in read_bundle(bundle).items["item_id"]]

        def history(i: int) -> list:
            """50 distinct items, a different set for each request."""
            return [item_ids[(i * 7919 + j * 61) % len(item_ids)] for j in range(HISTORY_LENGTH)]

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        ray.init(log_to_driver=False)
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        deployment = MonorecService.options(num_replicas=args.replicas)
        serve.run(deployment.bind(None, str(bundle)), name="monorec", route_prefix="/")
        url = f"http://127.0.0.1:{port}/recommend"
        results = {}
        loads = {
            "no_intervention": lambda i: {"user_id": 1 + i % 6040, "k": 10, "interventions": []},
            "one_intervention": lambda i: {"user_id": 1 + i % 6040, "k": 10, "interventions": INTERVENTION},
            "one_direction": lambda i: {"user_id": 1 + i % 6040, "k": 10, "interventions": DIRECTION},
            "calibrated": lambda i: {"user_id": 1 + i % 6040, "k": 10, "interventions": CALIBRATED},
            "history_one_intervention": lambda i: {"history": history(i), "k": 10, "interventions": INTERVENTION},
        }
        chosen = args.loads.split(",") if args.loads else list(loads)
        if unknown := sorted(set(chosen) - set(loads)):
            parser.error(f"unknown loads {unknown}; there are {', '.join(loads)}")
        for label in chosen:
            for clients in CLIENTS:
                run_load(url, loads[label], clients, 200, 2.0, headers)  # warm-up (and the one calibration)
                load = run_load(url, loads[label], clients, args.requests, args.seconds, headers)
                results[f"{label}@{clients}"] = load.summary()
        serve.shutdown()
        ray.shutdown()
    summary = {"p99_target_ms": P99_TARGET_MS}
    for label in ("one_intervention", "one_direction", "calibrated", "history_one_intervention"):
        if f"{label}@16" in results:
            summary[f"{label}_p99_ms_at_16"] = results[f"{label}@16"]["p99_ms"]
    if "calibrated@16" in results and "one_intervention@16" in results:
        summary["calibration_adds_p99_ms_at_16"] = (
            results["calibrated@16"]["p99_ms"] - results["one_intervention@16"]["p99_ms"]
        )
    print(
        json.dumps(
            {
                "machine": {"processor": platform.processor() or "cpu", "cpu_count": os.cpu_count()},
                "config": args.config.name,
                "replicas": args.replicas,
                "serve_env": {name: os.environ.get(name) for name in [*THROUGHPUT_ENV, "RAY_SERVE_HAPROXY_NBTHREAD"]},
                "seconds_per_load": args.seconds,
                "results": results,
                "summary": summary,
            },
            indent=2,
        )
    )


def _plain(value: object) -> object:
    return value.item() if hasattr(value, "item") else value


if __name__ == "__main__":
    main()
