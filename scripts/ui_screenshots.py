"""Screenshots of a sweep in the MLflow UI, taken by headless Chromium (the system's).

python scripts/ui_screenshots.py --url http://127.0.0.1:5000 --out shots/

For the newest experiment with a sweep on the MLflow server at --url (with MLflow's basic auth,
as the user that MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD name, where set):
  runs-table.png    its runs table in the Model training view, the sweep run's nets expanded
  net-metrics.png   one net's metric charts (the run page's Model metrics tab)
  sweep-run.png     the sweep run's overview page (its description, params, metrics)

scripts/ui_screenshots.sh starts a server over a store and runs this. Chromium is driven
through the DevTools protocol over a pipe (--remote-debugging-pipe): the standard library is
enough, nothing to install. The UI is a single-page app; each picture is taken once the page
shows what it is for (names, charts) and no spinner, not after a fixed wait."""

import argparse
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PARENT_TAG = "mlflow.parentRunId"
TABLE_METRICS = ("train_error", "val_error", "test_error")  # columns of the runs table, if logged


# --- The server's REST API --------------------------------------------------------------------


def auth_headers() -> dict[str, str]:
    """The Authorization header of MLflow's basic auth for the user of MLflow's variables."""
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if not user:
        return {}
    token = f"{user}:{os.environ.get('MLFLOW_TRACKING_PASSWORD', '')}".encode()
    return {"Authorization": f"Basic {base64.b64encode(token).decode()}"}


def api(url: str, endpoint: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{url}/api/2.0/mlflow/{endpoint}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **auth_headers()},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            sys.exit(
                f"ui_screenshots: {url} refused ({error.code}): its user and password in "
                "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
            )
        raise


def tags(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


def newest_sweep(url: str) -> tuple[str, dict, list[dict]]:
    """The newest experiment with runs: its id, its newest sweep run (the newest run that others
    are nested under) and that run's nets (oldest first)."""
    body = {"max_results": 1000, "order_by": ["creation_time DESC"]}
    for experiment in api(url, "experiments/search", body).get("experiments", []):
        runs = api(
            url,
            "runs/search",
            {
                "experiment_ids": [experiment["experiment_id"]],
                "max_results": 1000,
                "order_by": ["attributes.start_time DESC"],
            },
        ).get("runs", [])
        for run in runs:
            nets = [r for r in runs if tags(r).get(PARENT_TAG) == run["info"]["run_id"]]
            if nets:
                nets.sort(key=lambda r: r["info"]["start_time"])
                return experiment["experiment_id"], run, nets
    sys.exit("ui_screenshots: no experiment of this store has a sweep (a run with nested runs)")


# --- Chromium through the DevTools protocol ---------------------------------------------------


class Chromium:
    """A headless Chromium and one page of it, driven through the DevTools protocol over a pipe:
    Chromium reads commands from its fd 3 and writes answers and events to its fd 4, each a JSON
    message ended by a NUL byte."""

    def __init__(self, executable: str, width: int, height: int):
        self.profile = tempfile.mkdtemp(prefix="ui-screenshots-chromium-")
        to_chromium, self.commands = os.pipe()
        self.answers, from_chromium = os.pipe()
        flags = [
            "--headless",
            "--no-sandbox",  # as root, Chromium runs only without its sandbox
            "--disable-gpu",
            "--hide-scrollbars",
            "--remote-debugging-pipe",
            f"--user-data-dir={self.profile}",
            f"--window-size={width},{height}",
            "about:blank",
        ]
        self.process = subprocess.Popen(
            ["sh", "-c", f'exec "$0" "$@" 3<&{to_chromium} 4>&{from_chromium}', executable, *flags],
            pass_fds=(to_chromium, from_chromium),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # Chromium's complaints about D-Bus and the like
            start_new_session=True,
        )
        os.close(to_chromium)
        os.close(from_chromium)
        self.buffer = b""
        self.next_id = 0
        self.session = None
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        if auth_headers():
            self.send("Network.enable")
            self.send("Network.setExtraHTTPHeaders", headers=auth_headers())

    def send(self, method: str, **params) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        while True:  # events in between are not needed: pages are polled instead
            answer = self.receive()
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]

    def receive(self) -> dict:
        while b"\0" not in self.buffer:
            chunk = os.read(self.answers, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe (it ended)")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def shows(self, expression: str, timeout: float) -> bool:
        """Whether the page's expression comes true within the timeout and is still true half a
        second later (a page that is still rendering may show it for a moment)."""
        deadline = time.monotonic() + timeout
        held = 0
        while held < 2:
            held = held + 1 if self.evaluate(f"Boolean({expression})") else 0
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)
        return True

    def wait_for(self, expression: str, what: str, timeout: float = 60) -> None:
        if not self.shows(expression, timeout):
            raise TimeoutError(f"the page did not show {what} within {timeout:.0f} s")

    def screenshot(self, path: Path) -> None:
        self.evaluate(CLOSE_ASSISTANT)
        self.evaluate(NO_CHART_TOOLBARS)
        time.sleep(1)  # the panel's closing, charts resized to the room it leaves
        png = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(png))
        print(f"ui_screenshots: {path}")

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            self.send("Browser.close")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # whatever of it is left
        self.process.wait()
        for fd in (self.commands, self.answers):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)


# --- What the pictures wait for (JavaScript run in the page) ----------------------------------

NO_SPINNER = """![...document.querySelectorAll('[class*=spin-spinning], [role=progressbar]')]
    .some(e => {
        const box = e.getBoundingClientRect();  // charts below the fold wait with a spinner
        return box.width > 0 && box.bottom > 0 && box.top < innerHeight;
    })"""

# The MLflow Assistant's side panel, open on every page, takes a quarter of the window: closed.
CLOSE_ASSISTANT = """[...document.querySelectorAll('button[aria-label=Close]')]
    .find(b => b.closest('div:has(> * button[aria-label=Close])')?.innerText
        .includes('MLflow Assistant'))?.click()"""

# Plotly's toolbar, drawn over the top of each chart in headless Chromium: hidden.
NO_CHART_TOOLBARS = """document.head.insertAdjacentHTML('beforeend',
    '<style>.modebar-container { display: none !important; }</style>')"""


def links_to(run_ids: list[str]) -> str:
    """The page links to each of these runs (by their run page's URL, as the runs table does)."""
    checks = [f"document.querySelector('a[href$=\"/runs/{i}\"]')" for i in run_ids]
    return " && ".join(checks)


def text_shown(text: str) -> str:
    return f"document.body.innerText.includes({json.dumps(text)})"


def expander(run_id: str) -> str:
    """The expander of the run's row in the runs table: the button beside its name."""
    link = f"document.querySelector('a[href$=\"/runs/{run_id}\"]')"
    return f"{link}?.closest('[role=gridcell]')?.querySelector('button')"


def add_columns(experiment_id: str, columns: list[str]) -> str:
    """Adds columns to the runs table's state that the UI keeps in the browser's localStorage,
    for the page's next load, as its Columns menu would, and puts them second, after the run's
    name and date, as dragging them there would; they and the dataset and model columns (300
    and 200 pixels) made as wide as fits in the picture. True where that state was found."""
    order = ["attributes.`Run Name`", "runDateAndNestInfo", *columns]
    order += ["attributes.`Dataset`", "attributes.`Models`"]
    widths = {c: 120 for c in columns} | {"attributes.`Dataset`": 200, "attributes.`Models`": 120}
    scope = f'-ExperimentPage-["{experiment_id}"]-ReactComponentState'
    return f"""(() => {{
        const key = Object.keys(localStorage).find(k => k.startsWith('MLflowLocalStorage-')
            && k.endsWith({json.dumps(scope)}));
        if (!key) return false;
        const state = JSON.parse(localStorage.getItem(key));
        const columns = [...(state.selectedColumns || []), ...{json.dumps(columns)}];
        state.selectedColumns = [...new Set(columns)];
        state.columnOrder = {json.dumps(order)};
        state.columnWidths = {{...state.columnWidths, ...{json.dumps(widths)}}};
        localStorage.setItem(key, JSON.stringify(state));
        return true;
    }})()"""


def charts_drawn(count: int) -> str:
    """At least `count` charts with a drawn line (Plotly's SVG paths of class js-line)."""
    lines = "[...document.querySelectorAll('path.js-line')]"
    return f"{lines}.filter(p => (p.getAttribute('d') || '').length > 10).length >= {count}"


def take(url: str, out: Path, executable: str, width: int, height: int) -> None:
    experiment_id, sweep, nets = newest_sweep(url)
    sweep_id, net = sweep["info"]["run_id"], nets[0]
    net_id = net["info"]["run_id"]
    view = "workflowType=machine_learning"  # the Model training view, not the GenAI one
    base = f"{url}/#/experiments/{experiment_id}/runs"
    out.mkdir(parents=True, exist_ok=True)
    browser = Chromium(executable, width, height)
    try:
        browser.open(f"{base}?{view}")
        browser.wait_for(links_to([sweep_id]), "the sweep run in the runs table")
        browser.wait_for(expander(sweep_id), "the sweep run's expander")
        browser.evaluate(f"{expander(sweep_id)}.click()")  # once: a second click collapses
        net_ids = [n["info"]["run_id"] for n in nets]
        browser.wait_for(links_to(net_ids), "the nets under the sweep run")
        logged = {m["key"] for n in nets for m in n["data"].get("metrics", [])}
        columns = [f"metrics.`{m}`" for m in TABLE_METRICS if m in logged]
        if columns and browser.evaluate(add_columns(experiment_id, columns)):
            browser.send("Page.reload")  # the page reads its state again: columns, expanded rows
            browser.wait_for(expander(sweep_id), "the sweep run in the runs table")
            if not browser.shows(links_to(net_ids), timeout=10):  # its rows kept expanded
                browser.evaluate(f"{expander(sweep_id)}.click()")
        browser.wait_for(f"{links_to(net_ids)} && {NO_SPINNER}", "the nets under the sweep run")
        browser.screenshot(out / "runs-table.png")

        metrics = {m["key"] for m in net["data"].get("metrics", [])}
        browser.open(f"{base}/{net_id}/model-metrics?{view}")
        browser.wait_for(
            f"{text_shown(net['info']['run_name'])} && {charts_drawn(min(len(metrics), 2))}"
            f" && {NO_SPINNER}",
            f"{net['info']['run_name']}'s metric charts",
        )
        browser.screenshot(out / "net-metrics.png")

        browser.open(f"{base}/{sweep_id}?{view}")
        browser.wait_for(
            f"{text_shown(sweep['info']['run_name'])} && {text_shown('Description')}"
            f" && {NO_SPINNER}",
            "the sweep run's overview",
        )
        browser.screenshot(out / "sweep-run.png")
    finally:
        browser.close()


def find_chromium() -> str | None:
    return next(filter(None, map(shutil.which, CHROMIUMS)), None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", required=True, help="the MLflow server, e.g. http://127.0.0.1:5000")
    p.add_argument("--out", required=True, type=Path, help="folder for the PNGs")
    p.add_argument("--width", type=int, default=1400)
    p.add_argument("--height", type=int, default=900)
    p.add_argument("--chromium", default=find_chromium(), help="Chromium's executable")
    args = p.parse_args()
    if not args.chromium:
        sys.exit(f"ui_screenshots: no Chromium found ({', '.join(CHROMIUMS)}); pass --chromium")
    take(args.url.rstrip("/"), args.out, args.chromium, args.width, args.height)


if __name__ == "__main__":
    main()
