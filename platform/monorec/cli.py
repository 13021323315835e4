"""Shared command-line plumbing for `jobs/*.py`: config + overrides in, clear errors out."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from monorec.config import ExperimentConfig, load_config
from monorec.errors import MonorecError
from monorec.extras import missing_module
from monorec.paths import monorec_home
from monorec.results import RecommenderRun, SAERun, mlflow_metrics, mlflow_series

T = TypeVar("T")


def config_parser(description: str, default_config: Path | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--config",
        type=Path,
        required=default_config is None,
        default=default_config,
        help="YAML config file (see configs/)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        nargs="+",
        help="override a config value, e.g. --set train.epochs=3 model.embedding_dim=32",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help="where artifacts go (default: ~/.monorec/runs/<config name>, or under MONOREC_HOME)",
    )
    return parser


def run_job(
    parser: argparse.ArgumentParser,
    config_cls: type[T],
    job: Callable[[T, Path], object],
    track: str | None = None,
) -> int:
    """Parse arguments, run `job(config, output_dir)`, and turn monorec errors into one-line messages.

    With `track` (the job's name), the finished run is also recorded in MLflow (`monorec.tracking`).
    """
    args = parser.parse_args()
    setup_logging()

    def work() -> str:
        overrides = [item for group in args.overrides for item in group]
        config = load_config(config_cls, args.config, overrides)
        # An absolute default: a job submitted to Ray runs in a temporary copy of the working dir.
        output_dir = args.output_dir or monorec_home() / "runs" / args.config.stem
        logging.getLogger("monorec").info("writing artifacts to %s", output_dir.resolve())
        result = job(config, output_dir)
        if track:
            _track(track, config, result, output_dir)
        return f"done: metrics in {output_dir / 'metrics.json'}"

    return report_outcome(work, "rerun the same command to resume from the last checkpoint")


def comma_names(value: str | None) -> set[str] | None:
    """`--models mf,ncf` as a set (None when not given: every one in the config)."""
    return {name.strip() for name in value.split(",") if name.strip()} if value else None


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def report_outcome(work: Callable[[], str], on_interrupt: str) -> int:
    """Run `work` and print its closing line; monorec errors and Ctrl-C become one line and an exit code."""
    try:
        message = work()
    except MonorecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: {on_interrupt}", file=sys.stderr)
        return 130
    print(message)
    return 0


def _track(job: str, config: ExperimentConfig, result: object, output_dir: Path) -> None:
    log = logging.getLogger("monorec")
    if missing_module("mlflow") is not None:  # the core install: MLflow is the optional [mlflow] extra
        log.info("tracking skipped: mlflow is not installed (pip install 'monorec[mlflow]')")
        return
    from monorec.tracking import Tracker, experiment_path, model_name

    tracker = Tracker(config.tracking.uri)
    checksum = result.dataset.checksum if isinstance(result, RecommenderRun) else ""
    series = mlflow_series(result) if isinstance(result, SAERun) else None
    run_id = tracker.log_job_run(
        job, config, mlflow_metrics(result), output_dir, dataset_checksum=checksum, series=series
    )
    experiment = tracker.experiment(model_name(config))
    log.info("tracked in MLflow run %s (%s); in `mlflow ui`: %s", run_id, tracker.uri, experiment_path(experiment))
