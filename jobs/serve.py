"""Serve a bundle over HTTP with Ray Serve (a convenience over `serve run configs/serve.yaml`).

    python jobs/serve.py --model monorec-ml1m-mf@champion [--host 127.0.0.1] [--port 8000] [--replicas 2]
    python jobs/serve.py --bundle ~/.monorec/runs/tune_sae/bundle

Blocks until interrupted. OpenAPI docs at http://HOST:PORT/docs. Runs Ray Serve in its throughput
mode (HAProxy ingress, see serve/throughput.py) unless RAY_SERVE_ENABLE_HA_PROXY=0 is set.
"""

import argparse
import logging
import sys

from monorec.errors import MonorecError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="registered model, NAME@ALIAS or NAME/VERSION")
    source.add_argument("--bundle", help="a local bundle folder")
    parser.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default: as the jobs)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--replicas", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    from serve.throughput import enable_throughput_mode

    enable_throughput_mode()  # before Ray starts: a local Ray inherits this environment
    from ray import serve

    from serve.app import app_builder, load_bundle

    try:
        load_bundle(args.model, args.bundle, args.tracking_uri)  # fail here, with a clear message, not in a replica
    except MonorecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    serve.start(http_options={"host": args.host, "port": args.port})
    app = app_builder(
        {
            "model": args.model,
            "bundle_path": args.bundle,
            "tracking_uri": args.tracking_uri,
            "num_replicas": args.replicas,
        }
    )
    serve.run(app, name="monorec", route_prefix="/", blocking=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
