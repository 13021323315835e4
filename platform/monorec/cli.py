"""Shared command-line plumbing for `jobs/*.py`: config + overrides in, clear errors out."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from monorec.config import load_config
from monorec.errors import MonorecError
from monorec.paths import monorec_home

T = TypeVar("T")


def config_parser(description: str, default_config: Path | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--config", type=Path, required=default_config is None, default=default_config,
        help="YAML config file (see configs/)",
    )  # fmt: skip
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", nargs="+",
        help="override a config value, e.g. --set train.epochs=3 model.embedding_dim=32",
    )  # fmt: skip
    parser.add_argument(
        "--output-dir", type=Path, default=None,
        help="where artifacts go (default: ~/.monorec/runs/<config name>, or under MONOREC_HOME)",
    )  # fmt: skip
    return parser


def run_job(parser: argparse.ArgumentParser, config_cls: type[T], job: Callable[[T, Path], dict]) -> int:
    """Parse arguments, run `job(config, output_dir)`, and turn monorec errors into one-line messages."""
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        overrides = [item for group in args.overrides for item in group]
        config = load_config(config_cls, args.config, overrides)
        # An absolute default: a job submitted to Ray runs in a temporary copy of the working dir.
        output_dir = args.output_dir or monorec_home() / "runs" / args.config.stem
        logging.getLogger("monorec").info("writing artifacts to %s", output_dir.resolve())
        job(config, output_dir)
    except MonorecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume from the last checkpoint", file=sys.stderr)
        return 130
    print(f"done: metrics in {output_dir / 'metrics.json'}")
    return 0
