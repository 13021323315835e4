"""The fidelity gap to the paper, one notebook difference at a time; re-renders results/README.md.

    python jobs/ablate.py [--models mf,ncf] [--device auto] [--force] [--workers 2]
    python jobs/ablate.py --config configs/ablation.yaml --results-dir /tmp/results

For each cell of the config (configs/ablation.yaml: ML-1M MF and NCF): the shipped SAE and each
difference from the paper's notebooks alone on the first seed; the shipped config, all the
differences together (configs/paper_notebook_<model>.yaml) and the single largest one on every
seed; then the random-SAE check (untied SAEs trained, or with the encoder or decoder frozen at
random) on every seed. One record per run in RESULTS/ablation/<cell>/, read by the page's
"Fidelity gap" section. Finished runs are skipped on a rerun; --force recomputes the cells.
"""

import argparse
import sys
import time
from pathlib import Path

from monorec.cli import comma_names, report_outcome, setup_logging
from monorec.config import AblationConfig, load_config
from monorec.paths import monorec_home
from monorec.reproduction import write_page
from monorec.reproduction.ablation import ablate

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "ablation.yaml")
    parser.add_argument("--datasets", default=None, help="comma-separated (default: all in the config)")
    parser.add_argument("--models", default=None, help="comma-separated, e.g. mf (default: all in the config)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N")
    parser.add_argument("--force", action="store_true", help="recompute the selected cells even if finished")
    parser.add_argument("--results-dir", type=Path, default=ROOT / "results")
    parser.add_argument("--work-dir", type=Path, default=None, help="models and reports (default ~/.monorec/ablation)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the CPU threads (2 on 2 cores: about half the time)",
    )
    args = parser.parse_args()
    setup_logging()
    started = time.perf_counter()

    def work() -> str:
        settings = load_config(AblationConfig, args.config)
        ablate(
            settings,
            args.config.parent,
            args.work_dir or monorec_home() / "ablation",
            args.results_dir,
            datasets=comma_names(args.datasets),
            models=comma_names(args.models),
            device=args.device,
            force=args.force,
            workers=args.workers,
            worker_setup=setup_logging,
        )
        return f"done in {time.perf_counter() - started:.0f} s: {write_page(args.results_dir)}"

    return report_outcome(work, "rerun the same command to resume (finished runs are kept)")


if __name__ == "__main__":
    sys.exit(main())
