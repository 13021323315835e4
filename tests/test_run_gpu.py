"""`benchmarks/run_gpu.py`, the one command for the GPU figures, checked end to end on CPU.

The GPU machine has no Ray, MLflow or network, so the command must run on the core alone; here
it runs every benchmark in its seconds-long form with `--device cpu`.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
LAZY_RSS_GIB = 0.02  # the kernel's high-water mark may trail a sample of /proc/self/statm by this much


def test_run_gpu_runs_every_benchmark_and_writes_their_figures(tmp_path, data_dir):
    done = subprocess.run(
        [sys.executable, "benchmarks/run_gpu.py", "--device", "cpu", "--quick", "--out-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    written = sorted(path.name for path in tmp_path.glob("*.json"))
    names = ("recommender", "reproduction", "sae", "scale", "sequential")
    assert written == [f"bench_{name}_cpu.json" for name in names]
    sequential = json.loads((tmp_path / "bench_sequential_cpu.json").read_text())["results"]
    assert [r["dataset"] for r in sequential] == ["ml100k"] and list(sequential[0]["models"]) == ["monorec SASRec"]
    sasrec = sequential[0]["models"]["monorec SASRec"]
    assert sasrec["epochs"] == 1 and sasrec["ndcg@10"] > 0
    recommender = json.loads((tmp_path / "bench_recommender_cpu.json").read_text())
    assert recommender["models"]["mf"]["batch_256"]["samples_per_second"] > 0
    scale = json.loads((tmp_path / "bench_scale_cpu.json").read_text())["sizes"]["1M"]
    assert scale["interactions"] == 10**6 and scale["genres_purity@10>=0.9"] >= 15  # planted genres found at scale
    assert set(scale["stages"]) >= {"generate data", "train recommender", "evaluate recommender", "interpret sae"}
    assert all(stage["peak_rss_gib"] > 0 for stage in scale["stages"].values())
    # The kernel's peak (ru_maxrss) can miss no spike: it is at least every 20 ms sample of any stage, up to
    # what the kernel has not yet folded into it (RSS is counted per thread and summed lazily: a few MiB).
    sampled = max(stage["peak_rss_gib"] for stage in scale["stages"].values())
    assert scale["sampled_peak_rss_gib"] >= sampled
    assert scale["peak_rss_gib"] >= scale["sampled_peak_rss_gib"] - LAZY_RSS_GIB
    table = done.stdout
    assert "| sae | SAE training seconds (fast setting) |" in table and "failed" not in table
    assert "| reproduction | whole reproduction, minutes |" in table
    assert "| sequential | SASRec training seconds, ML-100K |" in table


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks what a machine without CUDA answers")
def test_run_gpu_without_cuda_says_so_in_one_line():
    done = subprocess.run([sys.executable, "benchmarks/run_gpu.py"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and "CUDA is not available" in done.stderr and "Traceback" not in done.stderr
