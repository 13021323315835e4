"""Load from `hey`, an external HTTP load generator (Debian package `hey`), read back as numbers.

A Python load generator shares the interpreter's costs with what it measures and caps well below
what a Go client sends on the same cores; the serving figures are `hey`'s. `hey` sends one fixed
body, so each load is one request repeated: a known user, or one history, with its controls.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

LATENCY = re.compile(r"^\s*(\d+)%+ in ([\d.]+) secs", re.MULTILINE)
STATUS = re.compile(r"^\s*\[(\d+)\]\s+(\d+) responses", re.MULTILINE)
TOTAL = re.compile(r"Total:\s+([\d.]+) secs")
ERROR = re.compile(r"^\s*\[(\d+)\]\t", re.MULTILINE)  # a line of "Error distribution": no HTTP status came back


def hey_binary() -> str:
    """The `hey` on PATH, or a one-line reason to stop."""
    if (found := shutil.which("hey")) is None:
        raise SystemExit("hey is not installed: apt-get install hey (the serving benchmarks measure with it)")
    return found


def hey_load(url: str, body: dict, clients: int, seconds: float, token: str) -> dict:
    """POST `body` to `url` from `clients` concurrent workers for `seconds`: rate, statuses, percentiles."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(body, file)
    try:
        command = [hey_binary(), "-z", f"{seconds:g}s", "-c", str(clients), "-m", "POST", "-T", "application/json"]
        command += ["-H", f"Authorization: Bearer {token}", "-D", file.name, url]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        Path(file.name).unlink()
    return parse_summary(output)


def parse_summary(output: str) -> dict:
    """`hey`'s text summary as numbers: answers per status, errors, 200s per second, latency percentiles in ms.

    The rate counts 200s only (hey's own "Requests/sec" counts refused connections too).
    """
    if (total := TOTAL.search(output)) is None:
        raise ValueError(f"hey printed no summary: {output[:200]!r}")
    statuses = {int(code): int(count) for code, count in STATUS.findall(output)}
    _, _, errors_part = output.partition("Error distribution:")
    errors = sum(int(count) for count in ERROR.findall(errors_part))
    latency = {int(p): 1000 * float(seconds) for p, seconds in LATENCY.findall(output)}
    requests = sum(statuses.values()) + errors
    return {
        "requests": requests,
        "statuses": statuses,
        "errors": errors,
        "failure_rate": 1 - statuses.get(200, 0) / max(requests, 1),
        "throughput_rps": statuses.get(200, 0) / float(total.group(1)),
        **{f"p{p}_ms": latency.get(p) for p in (50, 95, 99)},
    }
