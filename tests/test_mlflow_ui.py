"""The MLflow UI as a user first sees it, in headless chromium: the runs table, Dataset and Source filled.

MLflow 3 opens an experiment of unknown kind on its GenAI "Traces" view, empty for us; monorec
tags its experiments as model training and logs each run's dataset and source.
"""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

requests = pytest.importorskip("requests")
pytest.importorskip("mlflow")
playwright = pytest.importorskip("playwright.sync_api")

from monorec.config import ExperimentConfig  # noqa: E402
from monorec.tracking import Tracker, experiment_path, model_name  # noqa: E402


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_runs_table_opens_with_dataset_and_source(tmp_path):
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("needs Debian's chromium (apt install chromium); .ci/run installs it")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    config = ExperimentConfig()
    output = tmp_path / "run"
    output.mkdir()
    (output / "report.md").write_text("# report\n")
    tracker = Tracker(uri)
    tracker.log_job_run("train_sae", config, {"fidelity/rbo_truncated": 0.7}, output, run_name="sae-run")
    experiment = tracker.experiment(model_name(config))
    port = _free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--host", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "--port", str(port), "--default-artifact-root", str(tmp_path / "artifacts"), "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        with playwright.sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=executable)
            page = browser.new_page(viewport={"width": 1600, "height": 900})
            try:
                page.goto(f"http://127.0.0.1:{port}/{experiment_path(experiment)}")
                page.wait_for_selector("text=sae-run", timeout=60_000)
                page.wait_for_selector("text=synthetic", timeout=30_000)  # the Dataset column
                assert "traces" not in page.url.lower()
                assert page.locator("text=train_sae").count() + page.locator("text=jobs/train_sae.py").count() > 0
                page.screenshot(path=str(Path(tmp_path) / "mlflow_runs.png"))
            except Exception:
                page.screenshot(path=str(Path(tmp_path) / "failure.png"))
                raise
            finally:
                browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
