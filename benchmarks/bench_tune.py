"""SAE search throughput: a 16-trial Ray Tune search on ML-1M MF (configs/tune_sae.yaml).

    MONOREC_DATA_DIR=../shared/data python benchmarks/bench_tune.py [--set tune.num_samples=16 ...]

Runs the real `jobs/tune_sae.py` code path (Optuna TPE, ASHA, MLflow logging into a temporary
store, bundle registration) and prints one JSON object: the search time, trials per minute and
how many trials ASHA stopped early. The recommender is trained before the clock
starts (it is cached by config hash in the real job too).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from monorec.config import ExperimentConfig, load_config

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", dest="overrides", nargs="*", default=[])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["MONOREC_HOME"] = home
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        from monorec.pipeline import trained_recommender
        from monorec.tune import recommender_cache, run_tune

        config = load_config(ExperimentConfig, ROOT / "configs" / "tune_sae.yaml", ["tune.name=bench", *args.overrides])
        trained_recommender(config, recommender_cache(config))
        started = time.perf_counter()
        summary = run_tune(config, Path(home) / "out")
        seconds = time.perf_counter() - started
        trials = pd.read_csv(Path(home) / "out" / "trials.csv")
    epochs = config.sae_train.epochs
    print(
        json.dumps(
            {
                "machine": {
                    "device": torch.cuda.get_device_name()
                    if torch.cuda.is_available()
                    else platform.processor() or "cpu",
                    "cpu_count": os.cpu_count(),
                    "torch": torch.__version__,
                },
                "trials": config.tune.num_samples,
                "max_concurrent_trials": config.tune.max_concurrent_trials,
                "sae_epochs": epochs,
                "search_seconds": seconds,
                "stopped_early_by_asha": int((trials["epoch"] < epochs).sum()),
                "trials_per_minute": config.tune.num_samples / (seconds / 60),
                "best_objective": summary.objective,
                "best_config": summary.params,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
