"""Serve a bundle over HTTP with Ray Serve (a convenience over `serve run configs/serve.yaml`).

(Named run_service, not serve: a script's folder comes first on sys.path, and a jobs/serve.py
would shadow the `serve` package it starts.)

    MONOREC_API_TOKEN=... python jobs/run_service.py --model monorec-ml1m-mf@champion [--port 8000] [--replicas 2]
    MONOREC_API_TOKEN=... python jobs/run_service.py --bundle ~/.monorec/runs/tune_sae/bundle
    python jobs/run_service.py --bundle DIR --insecure-no-auth      # a local test without a token

Every endpoint but /health needs `Authorization: Bearer $MONOREC_API_TOKEN`; without a token the
service refuses to start unless --insecure-no-auth is given. A registry alias (NAME@ALIAS) is
resolved once, here, to a version whose manifest digest every replica checks. Blocks until
interrupted. OpenAPI docs at http://HOST:PORT/docs. Runs Ray Serve in its throughput mode
(HAProxy ingress, see serve/throughput.py) unless RAY_SERVE_ENABLE_HA_PROXY=0 is set.
"""

import argparse
import logging
import os
import sys
from pathlib import Path

from monorec.cli import report_outcome
from monorec.extras import require
from serve.guard import INSECURE_ENV, required_token


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="registered model, NAME@ALIAS or NAME/VERSION")
    source.add_argument("--bundle", help="a local bundle folder")
    parser.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default: as the jobs)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--insecure-no-auth", action="store_true", help=f"serve without a token (sets {INSECURE_ENV})")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    if args.insecure_no_auth:
        os.environ[INSECURE_ENV] = "1"  # before Ray starts: a local Ray's replicas inherit it

    def work() -> str:
        required_token()  # fail closed here, with one line, before anything starts
        from serve.throughput import enable_throughput_mode

        enable_throughput_mode()  # before Ray and Ray Serve are imported: they read it as they start
        require("serve", *(["mlflow"] if args.model else []), purpose="the service (jobs/run_service.py)")
        from ray import serve

        from monorec.bundle import read_bundle
        from serve.app import app_builder

        if args.bundle:
            read_bundle(Path(args.bundle).expanduser())  # a broken bundle fails here, not in a replica
        settings = {"model": args.model, "bundle_path": args.bundle, "tracking_uri": args.tracking_uri}
        app = app_builder({**settings, "num_replicas": args.replicas})
        serve.start(http_options={"host": args.host, "port": args.port})
        serve.run(app, name="monorec", route_prefix="/", blocking=True)
        return "stopped"

    return report_outcome(work, "the service stopped")


if __name__ == "__main__":
    sys.exit(main())
