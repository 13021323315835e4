"""The core holds at install time: every core module imports, and a job runs, without Ray or MLflow.

`pip install monorec` installs only the core (torch, pandas, pyarrow, numpy, pyyaml,
safetensors); Ray and MLflow are extras. These tests run in a subprocess whose import system
refuses `ray` and `mlflow`, as a machine without them would.
"""

import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import monorec

ROOT = Path(__file__).resolve().parents[1]
EXTRAS_LAYERS = ("monorec.distributed", "monorec.tune", "monorec.tracking")  # need `monorec[ray,mlflow]`
BLOCK = textwrap.dedent(
    """
    import sys

    class Blocked:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"ray", "mlflow"}:
                raise ImportError(f"{name} is blocked: this test runs the core without its extras", name=name)
            return None

    sys.meta_path.insert(0, Blocked())
    """
)


def core_modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(monorec.__path__, "monorec.")]
    return sorted(n for n in names if not n.startswith(EXTRAS_LAYERS))


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code, *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_every_core_module_imports_without_ray_or_mlflow():
    modules = core_modules()
    assert "monorec.pipeline" in modules and "monorec.sae.losses" in modules and len(modules) > 40
    done = _python("import importlib\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n", *modules)
    assert done.returncode == 0, done.stderr
    blocked = _python("import monorec.tracking")
    assert blocked.returncode != 0 and "mlflow is blocked" in blocked.stderr  # the block really works


def test_train_sae_job_runs_on_the_core_and_says_tracking_was_skipped(tmp_path):
    run = (
        "import runpy\n"
        "sys.argv = ['jobs/train_sae.py', '--config', 'configs/quick.yaml', '--set', 'sae_train.epochs=2',\n"
        "            'train.epochs=2', '--output-dir', sys.argv[1]]\n"
        "runpy.run_path('jobs/train_sae.py', run_name='__main__')\n"
    )
    done = _python(run, str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "tracking skipped: mlflow is not installed" in done.stderr
    assert (tmp_path / "metrics.json").is_file() and (tmp_path / "report.md").is_file()
