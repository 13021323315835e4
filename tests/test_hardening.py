"""Hardening without Ray: one id parser, atomic writes and bundles, locks, and non-finite scores."""

import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from sae_fixtures import planted, trained_sae

from monorec.bundle import BundleSource, read_bundle, write_bundle
from monorec.config import ExperimentConfig
from monorec.data import sources
from monorec.errors import ConflictError, DataError, UnknownIdError
from monorec.ids import lookup, neuron_ref
from monorec.interventions import Intervention
from monorec.serving import RankRequest, RecommenderService
from monorec.storage import atomic_write, file_lock, write_json

HOSTILE = ["²", "٣", "9" * 5000, "1" * 19, "", " 1", "1.0", "-3", "Horror\x00", "ＨＯＲＲＯＲ", "x" * 10_000]


@pytest.mark.parametrize("raw", HOSTILE)
def test_every_hostile_id_is_an_unknown_id_with_a_short_message(raw):
    for call in (lambda: lookup(raw, {"1": 0, "Horror": 1}, "user_id"), lambda: neuron_ref(raw, 24, {"Horror": [3]})):
        with pytest.raises(UnknownIdError) as error:
            call()
        assert len(str(error.value)) < 200  # never echoes a long id back


def test_ids_parse_ascii_decimals_and_exact_labels_only():
    assert lookup(7, {"7": 2}, "item_id") == lookup("7", {"7": 2}, "item_id") == lookup("007", {"7": 2}, "item_id") == 2
    assert lookup("alice", {"alice": 0}, "user_id") == 0
    assert neuron_ref("3", 24, {}) == neuron_ref(3, 24, {}) == [3]
    assert neuron_ref("Horror", 24, {"Horror": [3, 7]}) == [3, 7]
    with pytest.raises(UnknownIdError, match=r"the SAE has neurons 0\.\.23"):
        neuron_ref(10**30, 24, {})
    with pytest.raises(UnknownIdError, match="ids are integers or strings"):
        lookup(True, {"1": 0}, "user_id")


def test_atomic_write_uses_the_umask_and_leaves_nothing_behind_on_failure(tmp_path):
    script = (
        "import os, sys\nfrom pathlib import Path\nfrom monorec.storage import write_json\n"
        "os.umask(0o027)\nwrite_json(Path(sys.argv[1]), {'a': 1})\n"
    )
    target = tmp_path / "out.json"
    subprocess.run([sys.executable, "-c", script, str(target)], check=True, timeout=60)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # 0o666 narrowed by the umask, not 0o600 or 0o666

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_text().startswith("{") and sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_atomic_write_fsyncs_the_file_and_the_folder(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    write_json(tmp_path / "x.json", {"b": 2})
    assert len(synced) == 2  # the temporary file before the rename, the folder after it


@pytest.fixture(scope="module")
def bundle_parts():
    data, _, split, model = planted()
    sae, _, report = trained_sae()
    return BundleSource(model, sae, report.neurons, data, split, ExperimentConfig())


def test_a_failed_bundle_write_keeps_the_old_bundle(bundle_parts, tmp_path, monkeypatch):
    folder = write_bundle(tmp_path / "bundle", bundle_parts)
    before = read_bundle(folder).digest
    import monorec.bundle

    def crash(*args, **kwargs):
        raise OSError("killed mid-write")

    monkeypatch.setattr(monorec.bundle, "save_sae", crash)
    with pytest.raises(OSError, match="killed mid-write"):
        write_bundle(folder, bundle_parts)
    assert read_bundle(folder).digest == before  # the old bundle, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]  # no staging folder left


def test_a_bundle_that_is_not_the_registered_one_is_refused(bundle_parts, tmp_path):
    folder = write_bundle(tmp_path / "bundle", bundle_parts)
    digest = read_bundle(folder).digest
    assert read_bundle(folder, digest=digest).digest == digest
    tampered = shutil.copytree(folder, tmp_path / "tampered")
    (tampered / "neurons.csv").write_text((tampered / "neurons.csv").read_text().replace("Horror", "Comedy"))
    manifest = (tampered / "manifest.json").read_text()
    import hashlib
    import json

    entries = json.loads(manifest)
    entries["neurons.csv"] = hashlib.sha256((tampered / "neurons.csv").read_bytes()).hexdigest()
    (tampered / "manifest.json").write_text(json.dumps(entries))  # consistent with itself, but not the registered one
    read_bundle(tampered)
    with pytest.raises(DataError, match="not the one registered"):
        read_bundle(tampered, digest=digest)


def test_concurrent_dataset_requests_download_once(tmp_path, monkeypatch):
    monkeypatch.setenv("MONOREC_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("MONOREC_DATA_DIR", raising=False)
    downloads = []

    def slow_download(archive, folder):
        downloads.append(folder)
        time.sleep(0.3)
        folder.mkdir(parents=True)
        for name in archive.files:
            (folder / name).write_text("x")

    monkeypatch.setattr(sources, "download", slow_download)
    folders = []
    threads = [threading.Thread(target=lambda: folders.append(sources.dataset_dir("ml1m"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(downloads) == 1 and len(set(folders)) == 1 and len(folders) == 4


def test_file_lock_excludes_another_holder(tmp_path):
    order = []

    def hold(name: str) -> None:
        with file_lock(tmp_path / "lock"):
            order.append(f"{name} in")
            time.sleep(0.2)
            order.append(f"{name} out")

    threads = [threading.Thread(target=hold, args=(name,)) for name in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert order[1].endswith("out") and order[3].endswith("out")  # never both inside at once


def test_non_finite_scores_fail_only_their_own_request(bundle_parts, tmp_path, monkeypatch):
    service = RecommenderService(read_bundle(write_bundle(tmp_path / "b", bundle_parts)))
    extreme = tuple(Intervention(3, "scale", 1e4, "both") for _ in range(16))  # the old 16 x 1e6 overflow probe
    listed = service.rank_many([RankRequest(1, extreme, 10)])[0]
    assert len(listed) == 10 and all(abs(entry["score"]) < float("inf") for entry in listed)  # edits do not compound
    real_scores = service.scores

    def scores(users, interventions=()):  # a request whose scores leave the finite range, in a shared batch
        values = real_scores(users, interventions)
        return values.fill_(float("nan")) if interventions else values

    monkeypatch.setattr(service, "scores", scores)
    fine, broken = service.rank_many([RankRequest(1, (), 10), RankRequest(2, extreme, 10)])
    assert len(fine) == 10 and all(torch.isfinite(torch.tensor(entry["score"])) for entry in fine)
    assert isinstance(broken, ConflictError) and "finite range" in str(broken)  # 409: valid, not satisfiable


def test_mlflow_calls_retry_while_sqlite_is_locked(monkeypatch, tmp_path):
    pytest.importorskip("mlflow")
    from monorec import tracking

    monkeypatch.setattr(tracking.time, "sleep", lambda seconds: None)
    calls = []

    def flaky(value):
        calls.append(value)
        if len(calls) < 3:
            raise RuntimeError("(sqlite3.OperationalError) database is locked")
        return value * 2

    assert tracking.retrying(flaky, 21) == 42 and len(calls) == 3
    with pytest.raises(ValueError, match="other"):
        tracking.retrying(lambda: (_ for _ in ()).throw(ValueError("other")))  # other errors are not retried

    class LockedTwice:  # every Tracker call goes through the retry, not only some
        def __init__(self):
            self.batches = 0

        def log_batch(self, run_id, metrics=(), params=()):
            self.batches += 1
            if self.batches < 3:
                raise RuntimeError("(sqlite3.OperationalError) database is locked")

    tracker = tracking.Tracker(f"sqlite:///{tmp_path}/mlflow.db")
    tracker._client = LockedTwice()
    tracker.log_metrics("run", {"loss": 0.5})
    assert tracker._client.batches == 3
