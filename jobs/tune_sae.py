"""Search the SAE's loss weights with Ray Tune; log every trial to MLflow; register the best bundle.

    python jobs/tune_sae.py [--config configs/tune_sae.yaml] [--set tune.num_samples=8 ...]
        [--output-dir DIR] [--resume]
    RAY_AUTH_MODE=token RAY_API_SERVER_ADDRESS=http://127.0.0.1:8265 \\
        ray job submit --working-dir . -- python jobs/tune_sae.py

Starts a local Ray unless the job runs on a cluster. Writes DIR/metrics.json (the best trial),
DIR/trials.csv, DIR/pareto.json (the validation Pareto front measured on the report users),
DIR/plots/ and DIR/bundle/, and registers the bundle in MLflow as monorec-<dataset>-<model>
with the alias @champion. --resume continues an interrupted search without redoing finished
trials.
"""

import sys
from pathlib import Path

from monorec.cli import config_parser, run_job
from monorec.config import ExperimentConfig
from monorec.extras import require

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "tune_sae.yaml"

if __name__ == "__main__":
    parser = config_parser(__doc__, default_config=DEFAULT_CONFIG)
    parser.add_argument("--resume", action="store_true", help="continue the interrupted search of the same name")
    resume = parser.parse_args().resume

    def tune_job(config: ExperimentConfig, output_dir: Path) -> dict:
        require("ray", "mlflow", "plots", purpose="the search (jobs/tune_sae.py)")
        from monorec.tune import run_tune  # imports Ray and MLflow: only once they are known to be there

        return run_tune(config, output_dir, resume=resume)

    sys.exit(run_job(parser, ExperimentConfig, tune_job))
