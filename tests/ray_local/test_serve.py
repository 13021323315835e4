"""The HTTP service end to end: a Serve app started on loopback over a bundle trained on synthetic data."""

import json
import os
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray")
requests = pytest.importorskip("requests")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from sae_fixtures import planted, trained_sae  # noqa: E402

from monorec.bundle import BundleSource, read_bundle, write_bundle  # noqa: E402
from monorec.config import ExperimentConfig, TrackingConfig  # noqa: E402
from monorec.errors import DataError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    data, _, split, model = planted()
    sae, _, report = trained_sae()
    folder = tmp_path_factory.mktemp("bundle") / "bundle"
    return write_bundle(folder, BundleSource(model, sae, report.neurons, data, split, ExperimentConfig()))


INSECURE = {"MONOREC_INSECURE_NO_AUTH": "1"}  # most tests speak to the service without a token
TOKEN = "s3cret"  # the last tests' (the bundle switch turns it on)


def _deploy(bundle_dir: Path, env: dict | None = None, name: str = "monorec", route_prefix: str = "/") -> None:
    """Deploy the service as `name`; a second application beside the main one takes no CPU of its own
    (the two replicas of the main one hold both of the test cluster's CPUs)."""
    from ray import serve

    from serve.app import MonorecService

    env = INSECURE if env is None else env
    actor = {"runtime_env": {"env_vars": env}, **({} if name == "monorec" else {"num_cpus": 0})}
    options = {"num_replicas": 2, "ray_actor_options": actor}
    serve.run(MonorecService.options(**options).bind(None, str(bundle_dir)), name=name, route_prefix=route_prefix)


@pytest.fixture(scope="module")
def url(local_ray, bundle_dir):
    """The service as users run it: Ray Serve's throughput mode (HAProxy ingress), two replicas."""
    from ray import serve

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    _deploy(bundle_dir)
    yield f"http://127.0.0.1:{port}"
    serve.shutdown()


def test_health_and_neurons(url, bundle_dir):
    response = requests.get(f"{url}/health", timeout=10)
    health = response.json()
    assert health == {
        "status": "ok",
        "model": "local bundle",
        "version": "local",
        "bundle_digest": read_bundle(bundle_dir).digest,
        "dataset": "synthetic",
        "neurons": 24,
    }
    assert str(bundle_dir) not in response.text and "/tmp" not in response.text  # no paths for anyone to see
    neurons = requests.get(f"{url}/neurons", timeout=10).json()
    assert len(neurons) == 24 and {"neuron", "label", "confidence", "frequency", "top_items"} <= set(neurons[0])
    horror = requests.get(f"{url}/neurons/Horror", timeout=10).json()
    assert horror and all(n["label"] == "Horror" for n in horror) and "Horror" in horror[0]["top_items"][0]
    assert requests.get(f"{url}/neurons/3", timeout=10).json()[0]["neuron"] == 3
    missing = requests.get(f"{url}/neurons/Polka", timeout=10)
    assert missing.status_code == 404 and "Polka" in missing.json()["error"]
    assert requests.get(f"{url}/openapi.json", timeout=10).json()["info"]["title"] == "monorec"


def test_recommend_without_interventions_is_the_models_own_ranking(url):
    data, _, split, model = planted()
    indptr, items = split.train_csr()
    for user in (0, 7, 42):
        got = requests.post(f"{url}/recommend", json={"user_id": int(data.user_ids[user]), "k": 10}, timeout=10)
        assert got.status_code == 200
        body = got.json()
        scores = model.rank_scores(torch.tensor([user]))[0]
        scores[items[indptr[user] : indptr[user + 1]]] = float("-inf")
        expected = data.item_ids[scores.topk(10).indices.numpy()].tolist()
        assert [i["item_id"] for i in body["items"]] == expected and [i["rank"] for i in body["items"]] == list(
            range(1, 11)
        )
        assert body["interventions_applied"] == [] and "own ranking" in body["explanation"]


def test_suppressing_horror_lowers_its_share_in_the_top10(url):
    data, truth, _, _ = planted()
    horror = truth.genre_names.index("Horror")
    horror_ids = set(data.item_ids[truth.item_genres[:, horror]].tolist())
    fans = data.user_ids[np.flatnonzero(truth.user_genres[:, horror])[:40]]
    share = {"before": [], "neuron": [], "direction": []}
    for user in fans:
        for key, interventions in (
            ("before", []),
            ("neuron", [{"neuron": "Horror", "op": "suppress", "strength": 2.0, "tower": "both"}]),
            ("direction", [{"concept": "Horror", "op": "suppress", "strength": 2.0, "tower": "both"}]),
        ):
            body = requests.post(
                f"{url}/recommend", json={"user_id": int(user), "interventions": interventions}, timeout=10
            ).json()
            share[key].append(np.mean([item["item_id"] in horror_ids for item in body["items"]]))
    assert np.mean(share["neuron"]) < np.mean(share["before"]) - 0.1
    assert np.mean(share["direction"]) < np.mean(share["before"]) - 0.1  # the concept direction, weighted neurons
    unknown = {"concept": "Polka", "op": "suppress"}
    response = requests.post(f"{url}/recommend", json={"user_id": 1, "interventions": [unknown]}, timeout=10)
    assert response.status_code == 404 and "unknown concept 'Polka'" in response.json()["error"]


def test_explain_profile_and_item_interventions(url):
    explained = requests.post(f"{url}/explain", json={"user_id": 1, "item_id": 5, "top": 3}, timeout=10).json()
    assert len(explained["neurons"]) == 3 and {"neuron", "label", "contribution"} <= set(explained["neurons"][0])
    contributions = [abs(n["contribution"]) for n in explained["neurons"]]
    assert contributions == sorted(contributions, reverse=True)
    profile = requests.get(f"{url}/users/1/profile", timeout=10).json()["neurons"]
    assert profile and all(n["label"] for n in profile)
    edit = {"tower": "item", "neuron": "Horror", "op": "set", "strength": 50.0, "item_ids": [5]}
    body = requests.post(f"{url}/recommend", json={"user_id": 1, "k": 5, "interventions": [edit]}, timeout=10).json()
    assert body["interventions_applied"][0]["item_ids"] == [5] and body["calibration"] == []


def test_strength_and_target_requests(url):
    """A target instead of a strength: the service calibrates on validation users and says what it used."""
    data, truth, _, _ = planted()
    fan = int(data.user_ids[np.flatnonzero(truth.user_genres[:, truth.genre_names.index("Horror")])[0]])
    target = {"measure": "concept_share", "k": 10, "at_most": 0.1, "concept": "Horror"}
    edit = {"neuron": "Horror", "op": "suppress", "tower": "both", "target": target}
    first = requests.post(f"{url}/recommend", json={"user_id": fan, "interventions": [edit]}, timeout=30)
    assert first.status_code == 200, first.text
    body = first.json()
    calibration = body["calibration"][0]
    assert calibration["validation_users"] > 0 and 0 <= calibration["user_effect"] <= 1
    slots = calibration["validation_users"] * 10  # a share is judged as a count of top-10 slots (docs/method.md)
    assert calibration["strength"] > 0 and round(calibration["validation_effect"] * slots) <= 0.1 * slots
    applied = body["interventions_applied"][0]
    assert applied["strength"] == calibration["strength"] and applied["target"] is None
    by_strength = {**edit, "strength": calibration["strength"]}
    by_strength.pop("target")
    again = requests.post(f"{url}/recommend", json={"user_id": fan, "interventions": [by_strength]}, timeout=10)
    assert [i["item_id"] for i in again.json()["items"]] == [i["item_id"] for i in body["items"]]


@pytest.mark.parametrize(
    ("edit", "status", "message"),
    [
        (
            {"neuron": "Horror", "target": {"measure": "concept_share", "at_most": 0.0, "concept": "Horror"}},
            409,  # valid, but no strength reaches it on this model
            "unreachable",
        ),
        (
            {"neuron": "Horror", "strength": 1.0, "target": {"measure": "long_tail_share", "at_least": 0.3}},
            422,
            "not both",
        ),
        (
            {"neuron": "Horror", "op": "scale", "target": {"measure": "long_tail_share", "at_least": 0.3}},
            422,
            "not scale",
        ),
        (
            {"neuron": "Horror", "target": {"measure": "concept_share", "at_least": 0.3, "concept": "Horror"}},
            422,
            "at_most",
        ),
        (
            {"neuron": "Horror", "target": {"measure": "concept_share", "at_most": 0.1, "concept": "Polka"}},
            404,
            "Polka",
        ),
    ],
)
def test_unreachable_targets_are_409_and_contradictory_ones_422(url, edit, status, message):
    response = requests.post(f"{url}/recommend", json={"user_id": 1, "interventions": [edit]}, timeout=30)
    assert response.status_code == status and message in response.text, response.text


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/recommend", {"user_id": 99999}, 404),
        ("/recommend", {"user_id": 1, "interventions": [{"neuron": "Polka", "op": "suppress"}]}, 404),
        (
            "/recommend",
            {"user_id": 1, "interventions": [{"tower": "item", "neuron": 1, "op": "boost", "item_ids": [10**9]}]},
            404,
        ),
        ("/recommend", {"user_id": 1, "interventions": [{"neuron": 99, "op": "suppress"}]}, 404),
        ("/explain", {"user_id": 1, "item_id": "nope"}, 404),
        ("/recommend", {"user_id": 1, "k": 0}, 422),
        ("/recommend", {"user_id": 1, "k": 1001}, 422),
        ("/recommend", {"user_id": 1, "k": "ten"}, 422),
        ("/recommend", {"user_id": 1, "interventions": [{"neuron": 1, "op": "suppress"}] * 17}, 422),
        ("/recommend", {"user_id": 1, "interventions": [{"neuron": 1, "op": "explode"}]}, 422),
        ("/recommend", {"user_id": 1, "interventions": [{"tower": "user", "neuron": 1, "item_ids": [3]}]}, 422),
        ("/recommend", {"k": 3}, 422),
        ("/recommend", {"user_id": 1, "surprise": True}, 422),
    ],
)
def test_client_mistakes_are_4xx_with_a_json_error(url, path, body, status):
    response = requests.post(f"{url}{path}", json=body, timeout=10)
    assert response.status_code == status, response.text
    assert response.json()


def test_non_finite_values_and_broken_json_are_422(url):
    raw = '{"user_id": 1, "interventions": [{"neuron": 1, "op": "set", "strength": NaN}]}'
    assert (
        requests.post(
            f"{url}/recommend", data=raw, headers={"content-type": "application/json"}, timeout=10
        ).status_code
        == 422
    )
    assert (
        requests.post(
            f"{url}/recommend", data="{not json", headers={"content-type": "application/json"}, timeout=10
        ).status_code
        == 422
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
intervention = st.fixed_dictionaries(
    {},
    optional={
        "tower": st.sampled_from(["user", "item", "both", "x"]) | json_values,
        "strength": json_values,
        "target": json_values
        | st.fixed_dictionaries(
            {"measure": st.sampled_from(["concept_share", "item_reach", "long_tail_share", "x"])},
            optional={"k": json_values, "at_most": json_values, "at_least": json_values, "concept": json_values},
        ),
        "neuron": json_values | st.sampled_from(["Horror", 1, -1]),
        "op": st.sampled_from(["suppress", "boost", "set", "scale"]) | json_values,
        "value": json_values,
        "item_ids": json_values,
    },
)
recommend_body = st.fixed_dictionaries(
    {},
    optional={
        "user_id": json_values | st.integers(0, 700),
        "k": json_values,
        "exclude_seen": json_values,
        "interventions": st.lists(intervention, max_size=3) | json_values,
    },
)


FUZZED: list[int] = []  # status of every fuzzed request, checked by the test after the fuzz tests
deep_json = st.integers(1, 400).map(lambda depth: "[" * depth + "1" + "]" * depth)
FUZZ = settings(max_examples=700, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(path=st.sampled_from(["/recommend", "/explain"]), body=recommend_body | json_values)
def test_fuzzed_bodies_never_get_a_5xx(url, path, body):
    response = requests.post(
        f"{url}{path}", data=json.dumps(body), headers={"content-type": "application/json"}, timeout=10
    )
    FUZZED.append(response.status_code)
    assert response.status_code < 500, (body, response.text)


@FUZZ
@given(text=st.text(max_size=60) | st.integers(-(10**30), 10**30).map(str) | st.just("9" * 5000))
def test_fuzzed_ids_in_paths_never_get_a_5xx(url, text):
    quoted = urllib.parse.quote(text, safe="")
    for path in (f"/neurons/{quoted}", f"/users/{quoted}/profile"):
        response = requests.get(f"{url}{path}", timeout=10)
        FUZZED.append(response.status_code)
        assert response.status_code < 500, (text, response.text)
        assert response.status_code != 404 or len(response.content) < 500  # an unknown id is never echoed whole


@FUZZ
@given(raw=deep_json | st.binary(max_size=200).map(lambda b: b.decode("latin-1")) | st.text(max_size=200))
def test_fuzzed_raw_bodies_never_get_a_5xx(url, raw):
    response = requests.post(
        f"{url}/recommend",
        data=raw.encode("utf-8", "surrogatepass"),
        headers={"content-type": "application/json"},
        timeout=10,
    )
    FUZZED.append(response.status_code)
    assert response.status_code < 500, (raw[:100], response.text)


def test_the_fuzzing_sent_at_least_2000_requests_and_none_got_a_5xx():
    assert len(FUZZED) >= 2000 and max(FUZZED) < 500, len(FUZZED)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/recommend", {"user_id": 1, "interventions": [{"neuron": "²"}]}),
        ("post", "/recommend", {"user_id": 1, "interventions": [{"neuron": "9" * 5000}]}),
        ("post", "/recommend", {"user_id": "9" * 5000}),
        ("get", "/neurons/%C2%B2", None),
        ("get", "/neurons/" + "9" * 5000, None),
        ("get", "/users/" + "x" * 3000 + "/profile", None),
    ],
)
def test_the_reported_500_probes_are_404_with_short_messages(url, method, path, body):
    response = getattr(requests, method)(f"{url}{path}", json=body, timeout=10)
    assert response.status_code == 404 and len(response.text) < 300, response.text


def test_bodies_over_64_kib_are_413_before_parsing(url):
    big = json.dumps({"user_id": 1, "padding": "x" * 70_000})
    sized = requests.post(f"{url}/recommend", data=big, headers={"content-type": "application/json"}, timeout=10)
    chunked = requests.post(
        f"{url}/recommend",
        data=(part.encode() for part in [big[:40_000], big[40_000:]]),
        headers={"content-type": "application/json"},
        timeout=10,
    )  # a generator body is sent chunked, without Content-Length
    assert (sized.status_code == 413 and chunked.status_code == 413 and "64" in sized.json()["error"]) or sized.text
    small = requests.post(f"{url}/recommend", json={"user_id": 1}, timeout=10)
    assert small.status_code == 200


def test_bundle_that_does_not_match_its_manifest_is_refused(bundle_dir, tmp_path):
    import shutil

    copy = shutil.copytree(bundle_dir, tmp_path / "tampered")
    (copy / "neurons.csv").write_text((copy / "neurons.csv").read_text().replace("Horror", "Comedy"))
    with pytest.raises(DataError, match=r"does not match its manifest \(neurons.csv: checksum differs\)"):
        read_bundle(copy)


def test_the_service_fails_closed_without_a_token(url, bundle_dir):
    """No token and no explicit insecure mode: replicas refuse to start, and so does jobs/run_service.py."""
    from ray import serve

    try:  # a second application beside the running one, which it leaves alone
        with pytest.raises(RuntimeError, match=r"(?i)deploy"):
            _deploy(bundle_dir, env={}, name="closed", route_prefix="/closed")
    finally:
        serve.delete("closed")
    assert requests.get(f"{url}/health", timeout=10).status_code == 200
    env = {k: v for k, v in os.environ.items() if k not in ("MONOREC_API_TOKEN", "MONOREC_INSECURE_NO_AUTH")}
    done = subprocess.run(
        [sys.executable, "jobs/run_service.py", "--bundle", str(bundle_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert (
        done.returncode == 2 and "refusing to serve without a token" in done.stderr and "Traceback" not in done.stderr
    )


def _replicas(state: str = "ALIVE") -> list[dict]:
    from ray.util.state import list_actors

    return [a for a in list_actors(filters=[("state", "=", state)], limit=1000) if "MonorecService" in a["class_name"]]


def test_service_survives_a_killed_replica_and_recovers(url, bundle_dir):
    import os
    import signal
    import threading
    import time

    from serve.loadgen import run_load

    deadline = time.monotonic() + 60
    while len(_replicas()) != 2 and time.monotonic() < deadline:  # replicas of an earlier deploy may be draining
        time.sleep(1)
    replicas = _replicas()
    assert len(replicas) == 2
    killed = replicas[0]["pid"]
    outcome = {}
    body = lambda i: {"user_id": 1 + i % 600, "k": 10}  # noqa: E731
    load = threading.Thread(target=lambda: outcome.update(result=run_load(f"{url}/recommend", body, 8, 4000, 12.0)))
    load.start()
    time.sleep(3)
    os.kill(killed, signal.SIGKILL)
    load.join()
    result = outcome["result"].summary()
    assert result["requests"] > 200 and result["failure_rate"] <= 0.005, result

    def recovered() -> bool:  # two live replicas again, neither of them the killed process
        alive = _replicas()
        return len(alive) == 2 and killed not in {a["pid"] for a in alive}

    deadline = time.monotonic() + 120  # a loaded 2-core box: the controller restarts it within two minutes
    while not recovered() and time.monotonic() < deadline:
        time.sleep(1)
    assert recovered(), _replicas()


def test_switching_bundles_drops_no_request(url, tmp_path):
    """A rolling update to another bundle (as a new registry version would be) that also turns the token
    on, which the token tests after it use: the load sends the token, which the insecure replicas ignore."""
    import threading

    from serve.loadgen import run_load

    data, _, split, model = planted()
    sae, _, report = trained_sae()
    settings = ExperimentConfig(tracking=TrackingConfig(register_alias="v2"))  # another config: another digest
    other = write_bundle(tmp_path / "v2", BundleSource(model, sae, report.neurons, data, split, settings))
    outcome = {}
    body = lambda i: {"user_id": 1 + i % 600, "k": 5}  # noqa: E731
    headers = {"Authorization": f"Bearer {TOKEN}"}
    load = threading.Thread(
        target=lambda: outcome.update(result=run_load(f"{url}/recommend", body, 4, 100000, 15.0, headers))
    )
    load.start()
    _deploy(other, env={"MONOREC_API_TOKEN": TOKEN})
    load.join()
    assert requests.get(f"{url}/health", timeout=10).json()["bundle_digest"] == read_bundle(other).digest
    assert requests.get(f"{url}/neurons", timeout=10).status_code == 401  # the new replicas guard
    result = outcome["result"].summary()
    assert result["requests"] > 100 and result["failures"] == 0, result


def test_explorer_in_a_browser_with_a_token(url, token_deployed, tmp_path):
    """The page at / loads without a token but shows nothing until one is typed; then search, a
    user's list, a suppression that changes it, an explanation, and clear messages for unknown ids."""
    import shutil

    playwright = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("needs Debian's chromium (apt install chromium); .ci/run installs it")
    data, truth, _, _ = planted()
    fan = str(data.user_ids[int(np.flatnonzero(truth.user_genres[:, truth.genre_names.index("Horror")])[0])])
    page_response = requests.get(f"{url}/", timeout=10)
    assert page_response.status_code == 200 and "monorec neuron explorer" in page_response.text
    assert "connect-src 'self'" in page_response.headers["content-security-policy"]
    assert requests.get(f"{url}/explorer/neurons", timeout=10).status_code == 401
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable)
        page = browser.new_page()
        try:
            page.goto(f"{url}/")
            page.wait_for_selector("#status:has-text('token')")  # selectors only: the page's CSP forbids eval
            page.fill("#token", "s3cret")
            page.click("#token-form button")
            page.wait_for_selector("body[data-ready]")
            load_ms = float(page.get_attribute("body", "data-ready"))
            assert page.evaluate("sessionStorage.getItem('monorec-token')") == "s3cret"
            assert "s3cret" not in page.url
            page.fill("#search", "Horror")
            assert set(page.locator("#neurons tbody tr td:nth-child(2)").all_text_contents()) == {"Horror"}

            page.fill("#user-id", "no-such-user")
            page.click("#user-form button")
            page.wait_for_selector("#user-message:has-text('unknown')")
            assert "unknown user_id" in page.text_content("#user-message") and page.locator("#user-view").is_hidden()

            page.fill("#user-id", fan)
            page.click("#user-form button")
            page.wait_for_selector("#recommendations li")
            before = page.locator("#recommendations li").all_text_contents()
            assert len(before) == 10 and page.locator("#profile li").count() > 0
            # The fan's own Horror neuron, suppressed from the profile panel, then pushed to strength 4.
            page.locator("#profile li", has_text="Horror").first.locator("button", has_text="suppress").click()
            page.wait_for_selector("#edits .edit")
            page.fill("#edits input[type=range]", "4")
            page.wait_for_selector("#effect[data-replaced]:not([data-replaced='0'])")
            stamp = page.get_attribute("#effect", "data-ms")  # changes with every steered list that lands
            steer_ms = float(stamp)
            after = page.locator("#recommendations li").all_text_contents()
            assert page.locator("#recommendations li.moved-in").count() > 0
            assert sum("Horror" in name for name in after) < sum("Horror" in name for name in before)
            # The same edit through the Horror direction (every neuron carrying it, weighted).
            page.select_option("#edits select[aria-label='neuron or direction']", "cHorror")
            page.wait_for_function("(stamp) => document.querySelector('#effect').dataset.ms !== stamp", arg=stamp)
            directed = page.locator("#recommendations li").all_text_contents()
            assert sum("Horror" in name for name in directed) < sum("Horror" in name for name in before)
            page.locator("#recommendations li button").first.click()
            page.wait_for_selector("#explanation h3")
            assert "neuron" in page.text_content("#explanation")
            print(f"explorer timings: page ready {load_ms:.0f} ms, steered list {steer_ms:.0f} ms")
            if screenshot := os.environ.get("MONOREC_EXPLORER_SCREENSHOT"):  # the README's picture
                page.screenshot(path=screenshot, full_page=True)
            # A new user: three of the fan's items pasted, one picked from the Horror neuron's top items.
            pasted = [page.get_attribute(f"#recommendations li:nth-child({n})", "data-item") for n in (1, 2, 3)]
            page.fill("#history", ", ".join(pasted))
            page.fill("#search", "Horror")
            page.locator("#neurons tbody tr").first.click()
            page.locator("#neuron-items li button", has_text="add to history").first.click()
            history = page.input_value("#history")
            assert history.count(",") == 3, history
            page.click("#history-form button")
            page.wait_for_selector("#profile li:has-text('folded in from 4 item(s)')")
            shown = [li.get_attribute("data-item") for li in page.locator("#recommendations li").all()]
            assert len(shown) == 10 and not set(shown) & set(history.replace(" ", "").split(","))  # history left out
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"))
            raise
        finally:
            browser.close()


@pytest.fixture
def token_deployed(url, bundle_dir):
    """The service behind a bearer token, for the last tests of the module (none follow): as the bundle
    switch left it, or redeployed so when that test did not run first."""
    if requests.get(f"{url}/neurons", timeout=10).status_code != 401:
        _deploy(bundle_dir, env={"MONOREC_API_TOKEN": TOKEN})
    return TOKEN


def test_bearer_token_guards_every_endpoint_but_health(url, token_deployed):
    assert requests.get(f"{url}/health", timeout=10).status_code == 200
    assert requests.get(f"{url}/neurons", timeout=10).status_code == 401
    wrong = requests.post(f"{url}/recommend", json={"user_id": 1}, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401 and wrong.json()["error"]
    right = requests.post(
        f"{url}/recommend", json={"user_id": 1}, headers={"Authorization": "Bearer s3cret"}, timeout=10
    )
    assert right.status_code == 200 and len(right.json()["items"]) == 10
