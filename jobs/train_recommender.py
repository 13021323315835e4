"""Train and evaluate a two-tower recommender.

    python jobs/train_recommender.py --config configs/ml1m_mf.yaml [--set train.epochs=3 ...] [--output-dir DIR]

Writes DIR/metrics.json, DIR/recommender.safetensors + recommender.json and a per-epoch
checkpoint; rerunning with the same config and DIR resumes from the last finished epoch.
"""

import sys

from monorec.cli import config_parser, run_job
from monorec.config import ExperimentConfig
from monorec.pipeline import run_recommender

if __name__ == "__main__":
    sys.exit(run_job(config_parser(__doc__), ExperimentConfig, run_recommender, track="train_recommender"))
