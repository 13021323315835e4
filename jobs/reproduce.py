"""Reproduce the paper end to end and publish results/README.md with its tables and figures.

    python jobs/reproduce.py [--datasets ml1m,lastfm] [--models mf,ncf] [--device auto] [--force]
    python jobs/reproduce.py --config configs/reproduce_quick.yaml --results-dir /tmp/results   # minutes, synthetic

For each dataset x model cell of the config (configs/reproduce.yaml): the recommender, the
SAE beta ablation (0, 0.1, 1) over three SAE seeds, a Matryoshka and a TopK SAE, the three
intervention case studies; one MLflow parent run per cell with a child run per SAE. Models go
to --work-dir (default ~/.monorec/reproduce), one metrics file per run to
RESULTS/metrics/<cell>/, and the page to RESULTS/README.md (+ PNG figures). Finished runs are
skipped on a rerun (an interrupted reproduction resumes); --force recomputes the selected cells.
--page-only re-renders the page from the metrics files without training anything.
"""

import argparse
import sys
import time
from pathlib import Path

from monorec.cli import comma_names, report_outcome, setup_logging
from monorec.config import ReproduceConfig, load_config
from monorec.paths import monorec_home
from monorec.reproduction import reproduce, write_page

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "reproduce.yaml")
    parser.add_argument(
        "--datasets", default=None, help="comma-separated, e.g. ml1m,lastfm (default: all in the config)"
    )
    parser.add_argument("--models", default=None, help="comma-separated, e.g. mf,ncf (default: all in the config)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N")
    parser.add_argument("--force", action="store_true", help="recompute the selected cells even if finished")
    parser.add_argument("--results-dir", type=Path, default=ROOT / "results")
    parser.add_argument("--work-dir", type=Path, default=None, help="models and reports (default ~/.monorec/reproduce)")
    parser.add_argument("--page-only", action="store_true", help="only re-render RESULTS/README.md and the figures")
    parser.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    args = parser.parse_args()
    setup_logging()
    started = time.perf_counter()

    def work() -> str:
        if args.page_only:
            readme = write_page(args.results_dir)
        else:
            settings = load_config(ReproduceConfig, args.config)
            readme = reproduce(
                settings,
                args.config.parent,
                args.work_dir or monorec_home() / "reproduce",
                args.results_dir,
                datasets=comma_names(args.datasets),
                models=comma_names(args.models),
                device=args.device,
                force=args.force,
                track=not args.no_tracking,
            )
        return f"done in {time.perf_counter() - started:.0f} s: {readme}"

    return report_outcome(work, "rerun the same command to resume (finished runs are kept)")


if __name__ == "__main__":
    sys.exit(main())
