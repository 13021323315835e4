"""Train an interaction-aware SAE through a frozen recommender, name its neurons, test interventions.

    python jobs/train_sae.py --config configs/ml1m_mf.yaml [--set sae_train.beta=1.0 ...] [--output-dir DIR]

Trains the recommender into DIR/recommender/ (or reuses the one already there for the same
config), trains the SAE with a checkpoint per epoch (a rerun resumes), and writes
DIR/metrics.json, DIR/neurons.csv, DIR/report.md and DIR/sae.safetensors + sae.json.
"""

import sys

from monorec.cli import config_parser, run_job
from monorec.config import ExperimentConfig
from monorec.pipeline import run_sae

if __name__ == "__main__":
    sys.exit(run_job(config_parser(__doc__), ExperimentConfig, run_sae, track="train_sae"))
