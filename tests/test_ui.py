"""A smoke sweep's runs as a user browses them: a real `mlflow server` over the sweep's store,
its REST API, and MLflow's single-page app rendered by headless Chromium.

One sweep and one server serve every test here: the test run's shared smoke sweep
(tests/smoke_sweep.py). Under pytest-xdist the tests may land in two processes; each process
starts its own server over that store."""

import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from mlflow_servers import start_server, stop

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = "depth-smoke-synthetic"
SWEEP = "sweep-smoke"
NETS = {"plain-8-s0", "residual-8-s0", "plain-14-s0", "residual-14-s0"}
PARENT_TAG = "mlflow.parentRunId"
DESCRIPTION_TAG = "mlflow.note.content"
CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Under pytest-xdist (--dist loadgroup) every test here runs in one process: one server.
pytestmark = pytest.mark.xdist_group("ui-server")


# --- The sweep's store and a server over it ---------------------------------------------------


@pytest.fixture(scope="module")
def smoke_folder(smoke_sweep) -> Path:
    """The folder where `python experiments/depth_sweep.py --preset smoke` ran, as a user runs
    it: its store in ./mlruns (shared with the other tests that read it)."""
    return smoke_sweep.folder


@dataclass(frozen=True)
class Server:
    url: str
    log: Path  # its output


@pytest.fixture(scope="module")
def server(smoke_folder, tmp_path_factory) -> Iterator[Server]:
    """`mlflow server` over the sweep's store on 127.0.0.1, started in the sweep's folder as the
    sweep's printed `mlflow ui` command starts it, artifacts in the store's own folder."""
    log = tmp_path_factory.mktemp("ui-server") / "server.log"
    store = ["--backend-store-uri", "sqlite:///mlruns/mlflow.db"]
    store += ["--artifacts-destination", "mlruns/artifacts"]
    with start_server(store, log, cwd=smoke_folder) as url:
        yield Server(url, log)


# --- The server's REST API: one helper a question, so that a check is one line ----------------


def answer(server: Server, request: urllib.request.Request | str) -> dict:
    """The server's JSON answer; an error answer fails the test with its message and the end
    of the server's log."""
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        log = server.log.read_text()[-3000:]
        pytest.fail(f"{error.code} from {error.url}: {error.read().decode()[:1000]}\n{log}")


def get(server: Server, endpoint: str, **params) -> dict:
    query = urllib.parse.urlencode(params)
    return answer(server, f"{server.url}/api/2.0/mlflow/{endpoint}?{query}")


def post(server: Server, endpoint: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{server.url}/api/2.0/mlflow/{endpoint}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    return answer(server, request)


def pages(server: Server, endpoint: str, body: dict, key: str) -> list[dict]:
    """Every item under `key` of a paged search (empty lists are left out of MLflow's JSON)."""
    found, token = [], None
    while True:
        page = post(server, endpoint, body | ({"page_token": token} if token else {}))
        found += page.get(key, [])
        token = page.get("next_page_token")
        if not token:
            return found


def experiment(server: Server, name: str = EXPERIMENT) -> dict:
    return get(server, "experiments/get-by-name", experiment_name=name)["experiment"]


def search_runs(server: Server, experiment_id: str) -> list[dict]:
    body = {"experiment_ids": [experiment_id], "max_results": 1000}
    return pages(server, "runs/search", body, "runs")


def get_run(server: Server, run_id: str) -> dict:
    return get(server, "runs/get", run_id=run_id)["run"]


def run_id(run: dict) -> str:
    return run["info"]["run_id"]


def run_name(run: dict) -> str:
    return run["info"]["run_name"]


def tags(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


def description(run: dict) -> str | None:
    """The run's description as the UI shows it on the run's overview page."""
    return tags(run).get(DESCRIPTION_TAG)


def dataset_inputs(run: dict) -> list[dict]:
    """The run's datasets (mlflow.log_input): each {"dataset": {"name", "digest", "source_type",
    "source", "schema", "profile"}, "tags": [{"key", "value"}]}."""
    return run.get("inputs", {}).get("dataset_inputs", [])


def dataset_names(run: dict) -> set[str]:
    return {d["dataset"]["name"] for d in dataset_inputs(run)}


def logged_models(server: Server, experiment_id: str) -> list[dict]:
    """The experiment's logged models (MLflow 3's LoggedModel): each {"info": {"model_id",
    "name", "source_run_id", "status", "artifact_uri", ...}, "data": {"params", "metrics"}}."""
    body = {"experiment_ids": [experiment_id], "max_results": 50}  # 50: the API's maximum
    return pages(server, "logged-models/search", body, "models")


def models_by_run(server: Server, experiment_id: str) -> dict[str, list[str]]:
    """The names of the logged models of each run that logged some, by run id."""
    found: dict[str, list[str]] = {}
    for model in logged_models(server, experiment_id):
        found.setdefault(model["info"].get("source_run_id", ""), []).append(model["info"]["name"])
    return found


@dataclass(frozen=True)
class Sweep:
    experiment_id: str
    run: dict
    nets: list[dict]


def sweep_and_nets(server: Server) -> Sweep:
    """The experiment's one sweep run and the runs nested under it."""
    experiment_id = experiment(server)["experiment_id"]
    runs = search_runs(server, experiment_id)
    (sweep,) = [r for r in runs if tags(r).get("kind") == "sweep"]
    nets = [r for r in runs if tags(r).get(PARENT_TAG) == run_id(sweep)]
    others = [run_name(r) for r in runs if r is not sweep and r not in nets]
    assert not others, f"runs that are neither the sweep nor nested under it: {others}"
    return Sweep(experiment_id, sweep, nets)


@pytest.mark.heavy(50)
def test_the_server_serves_the_sweep_and_its_nested_nets_by_name(server):
    sweep = sweep_and_nets(server)
    assert run_name(sweep.run) == SWEEP
    assert sweep.run["info"]["status"] == "FINISHED"
    assert PARENT_TAG not in tags(sweep.run)
    assert {run_name(r) for r in sweep.nets} == NETS
    assert {r["info"]["status"] for r in sweep.nets} == {"FINISHED"}
    net = sweep.nets[0]
    assert run_name(get_run(server, run_id(net))) == run_name(net)  # as a run's own page asks


@pytest.mark.heavy(50)
def test_the_server_serves_each_nets_data_sets_model_and_description(server):
    sweep = sweep_and_nets(server)
    models = models_by_run(server, sweep.experiment_id)
    for net in sweep.nets:
        assert dataset_names(net) == {"synthetic"}
        contexts = {t["value"] for d in dataset_inputs(net) for t in d["tags"]}
        assert contexts == {"training", "validation", "test"}
        assert models[run_id(net)] == [run_name(net)]  # the Models view lists it
        arch_depth = run_name(net).removesuffix("-s0")
        assert description(net).startswith(f"{arch_depth}, seed 0: train error ")
    assert "**Verdict**" in description(sweep.run)
    assert "| train error % |" in description(sweep.run)
    assert run_id(sweep.run) not in models


# --- The UI in headless Chromium --------------------------------------------------------------


def chromium() -> str:
    for name in CHROMIUMS:
        if found := shutil.which(name):
            return found
    pytest.skip(
        f"no Chromium executable on PATH (looked for {', '.join(CHROMIUMS)}); "
        "scripts/setup.sh installs Debian's chromium"
    )


def runs_page(server: Server, experiment_id: str) -> str:
    """The experiment's runs table in the UI's Model training view (without workflowType the
    UI opens its GenAI view), sorted by run name: the table nests child runs under a collapsed
    parent only when sorted by creation time and unfiltered, so the nets are rows of their own."""
    query = "workflowType=machine_learning&orderByKey=attributes.run_name&orderByAsc=true"
    return f"{server.url}/#/experiments/{experiment_id}/runs?{query}"


def rendered_dom(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran: with --dump-dom alone Chromium writes it at the load
    event, before the single-page app fetched any run; a virtual time budget lets it run until
    its requests are answered and its timers are idle (virtual time runs fast when idle)."""
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",  # as root, Chromium runs only without its sandbox
        "--disable-gpu",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
        "--virtual-time-budget=20000",
        "--dump-dom",
        url,
    ]
    browser = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        dom, errors = browser.communicate(timeout=180)
    finally:
        stop(browser)
    assert browser.returncode == 0, errors[-4000:]
    return dom


class Links(HTMLParser):
    """Every link of a page: (href, its text)."""

    def __init__(self):
        super().__init__()
        self.open: list[list[str]] = []
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.open.append([dict(attrs).get("href") or "", ""])

    def handle_endtag(self, tag):
        if tag == "a" and self.open:
            self.links.append(tuple(self.open.pop()))

    def handle_data(self, data):
        for link in self.open:
            link[1] += data


def links(dom: str) -> list[tuple[str, str]]:
    parser = Links()
    parser.feed(dom)
    return parser.links


def run_links(dom: str, experiment_id: str) -> dict[str, str]:
    """The runs the page links to, by run id: the text of each link, the run's name in the
    runs table."""
    prefix = f"#/experiments/{experiment_id}/runs/"
    found = links(dom)
    return {h.removeprefix(prefix): text.strip() for h, text in found if h.startswith(prefix)}


@pytest.mark.heavy(50)
def test_the_runs_page_shows_the_sweep_and_its_nets_in_chromium(server, tmp_path):
    sweep = sweep_and_nets(server)
    dom = rendered_dom(runs_page(server, sweep.experiment_id), tmp_path / "profile")
    shown = run_links(dom, sweep.experiment_id)
    assert shown == {run_id(r): run_name(r) for r in [sweep.run, *sweep.nets]}
    assert set(shown.values()) == {SWEEP, *NETS}
    # The Model training view: its side bar's Runs and Models, not the GenAI view's Traces,
    # Sessions, Evaluation runs...
    view = f"#/experiments/{sweep.experiment_id}/{{}}?workflowType=machine_learning"
    assert {(view.format("runs"), "Runs"), (view.format("models"), "Models")} <= set(links(dom))
