"""The core holds at install time: every core module imports, and a job runs, without Ray or MLflow.

`pip install monorec` installs only the core (torch, pandas, pyarrow, numpy, pyyaml,
safetensors); Ray and MLflow are extras. These tests run in a subprocess whose import system
refuses `ray` and `mlflow`, as a machine without them would.
"""

import ast
import os
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import monorec
from monorec.extras import EXTRAS
from monorec.layers import LAYERS, layer_of

ROOT = Path(__file__).resolve().parents[1]
EXTRAS_LAYERS = ("monorec.distributed", "monorec.tune", "monorec.tracking")  # need `monorec[ray,mlflow]`
BLOCK = textwrap.dedent(
    """
    import os
    import sys

    BLOCKED = set(os.environ.get("MONOREC_TEST_BLOCKED", "ray,mlflow").split(","))

    class Blocked:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED or name in BLOCKED:
                raise ImportError(f"{name} is blocked: this test runs without an extra", name=name)
            return None

    sys.meta_path.insert(0, Blocked())
    """
)
# Per extra: a job that needs it, and what blocking it looks like (a module of the extra).
EXTRA_JOBS = {
    "ray": ("ray", ["jobs/train_sae.py", "--config", "configs/quick.yaml", "--set", "ray.num_workers=2"]),
    "mlflow": ("mlflow", ["jobs/tune_sae.py", "--config", "configs/tune_quick.yaml"]),
    "plots": ("matplotlib", ["jobs/tune_sae.py", "--config", "configs/tune_quick.yaml"]),
    "serve": ("fastapi,starlette", ["jobs/run_service.py", "--bundle", "no-such-bundle", "--insecure-no-auth"]),
    "implicit": (
        "implicit",
        ["jobs/train_recommender.py", "--config", "configs/quick.yaml", "--set", "model.kind=als"],
    ),
}


def core_modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(monorec.__path__, "monorec.")]
    return sorted(n for n in names if not n.startswith(EXTRAS_LAYERS))


def _python(code: str, *args: str, blocked: str = "ray,mlflow") -> subprocess.CompletedProcess:
    environment = {**os.environ, "MONOREC_TEST_BLOCKED": blocked}
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
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


@pytest.mark.parametrize("extra", EXTRAS)
def test_a_job_without_an_extra_it_needs_says_so_in_one_line(extra, tmp_path):
    module, argv = EXTRA_JOBS[extra]
    run = "import runpy\nsys.argv = sys.argv[1:]\nrunpy.run_path(sys.argv[0], run_name='__main__')\n"
    output = ["--output-dir", str(tmp_path)] if "--config" in argv else []
    done = _python(run, *argv, *output, blocked=module)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert lines[-1].startswith("error: ") and f"needs the [{extra}] extra" in lines[-1], lines[-1]
    assert f"pip install 'monorec[{extra}]'" in lines[-1] and "Traceback" not in done.stderr
    assert not (tmp_path / "metrics.json").exists()  # refused before any work


def _monorec_imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported monorec module) for every import in a file, inside functions too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "monorec":
            if node.module == "monorec":  # `from monorec import plots`: the names are the modules
                found += [(node.lineno, f"monorec.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "monorec"]
    return found


def _unit(module: str) -> str:
    return module.split(".")[1]


def test_no_module_imports_from_a_higher_layer():
    package = Path(monorec.__file__).parent
    files = [f for f in sorted(package.rglob("*.py")) if f != package / "__init__.py"]
    upward = []
    for file in files:
        unit = file.relative_to(package).with_suffix("").parts[0]
        for line, module in _monorec_imports(file):
            if module != "monorec" and _unit(module) != unit and layer_of(_unit(module)) >= layer_of(unit):
                upward.append(f"{file.relative_to(package)}:{line} imports {module} (layer {layer_of(_unit(module))})")
    assert not upward, "imports from the same or a higher layer:\n" + "\n".join(upward)
    every_unit = {f.relative_to(package).with_suffix("").parts[0] for f in files}
    assert every_unit == {unit for units in LAYERS for unit in units}  # every unit placed, none stale


def test_the_layer_check_sees_an_upward_import(tmp_path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def late():\n    from monorec.pipeline import run_sae\n")
    assert _monorec_imports(sneaky) == [(2, "monorec.pipeline")]
    assert layer_of("pipeline") > layer_of("sae")
