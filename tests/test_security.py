"""Store addresses: no password is ever shown, and a store that does not answer is one line
within seconds, for every URI-taking option of every command."""

import os
import socket
import time

import pytest

from analysis.report import main as report_main
from resnet.cli.sweep import main as sweep_main
from resnet.runner.storage import dashboard_command
from resnet.tracking.address import masked
from resnet.tracking.store import runs_url, ui_command

SECRET = "s3cretPW"


def test_masked_hides_every_kind_of_password():
    assert masked(f"postgresql://u:{SECRET}@db:5432/x") == "postgresql://u:***@db:5432/x"
    assert (
        masked(f"say mysql+pymysql://me:{SECRET}@h/d now") == "say mysql+pymysql://me:***@h/d now"
    )
    assert masked(f"postgresql://h/d?user=u&password={SECRET}&x=1").endswith("password=***&x=1")
    for plain in ("sqlite:///mlruns/mlflow.db", "http://127.0.0.1:5000", "postgresql://u@h/d"):
        assert masked(plain) == plain


def test_an_mlflow_servers_credentials_leave_its_uri_for_the_environment(monkeypatch):
    from resnet.tracking.address import credentials_to_environment

    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    assert (
        credentials_to_environment(f"https://me:{SECRET}%40x@host:5000/p") == "https://host:5000/p"
    )
    assert os.environ["MLFLOW_TRACKING_USERNAME"] == "me"
    assert os.environ["MLFLOW_TRACKING_PASSWORD"] == f"{SECRET}@x"  # unquoted, as typed
    for other in (f"postgresql://u:{SECRET}@db/mlflow", "http://host:5000", "sqlite:///m.db"):
        assert credentials_to_environment(other) == other  # a database keeps its own URL


def test_the_browse_commands_never_show_a_password():
    for uri in (f"postgresql://u:{SECRET}@db/mlflow", f"http://u:{SECRET}@host:5000"):
        assert SECRET not in ui_command(uri) + runs_url(uri, "1")
    assert SECRET not in dashboard_command(f"postgresql://u:{SECRET}@db/optuna")


@pytest.fixture
def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers: a database that hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


def sweep(*argv):
    return sweep_main(["--preset", "smoke", "--no-progress", "--no-report", *argv])


def report(*argv):
    return report_main(["--experiment", "x", "--no-log", *argv])


def refused_quickly(command, argv, capsys, limit=15.0):
    """Exit 2 in one line naming the store, no password anywhere, within `limit` seconds."""
    capsys.readouterr()
    started = time.monotonic()
    code = command(*argv)
    seconds = time.monotonic() - started
    out, err = capsys.readouterr()
    assert code == 2, err
    assert err.count("\n") == 1 and "cannot be" in err, err
    assert SECRET not in out + err and "***" in err
    assert seconds < limit, f"{seconds:.1f} s"


@pytest.mark.parametrize("option", ["--tracking-uri", "--storage"])
@pytest.mark.parametrize("port_kind", ["closed_port", "silent_port"])
def test_sweep_reports_an_unreachable_database_quickly(option, port_kind, request, workdir, capsys):
    port = request.getfixturevalue(port_kind)
    url = f"postgresql://u:{SECRET}@127.0.0.1:{port}/db"
    refused_quickly(sweep, [option, url], capsys)
    assert not (workdir / "mlruns").exists()  # nothing written


@pytest.mark.parametrize("port_kind", ["closed_port", "silent_port"])
def test_report_reports_an_unreachable_database_quickly(port_kind, request, workdir, capsys):
    port = request.getfixturevalue(port_kind)
    url = f"postgresql://u:{SECRET}@127.0.0.1:{port}/db"
    refused_quickly(report, ["--tracking-uri", url], capsys)


@pytest.mark.parametrize(
    ("command", "option"),
    [(sweep, "--tracking-uri"), (report, "--tracking-uri"), (sweep, "--storage")],
)
def test_a_database_without_its_driver_is_one_masked_line(command, option, workdir, capsys):
    refused_quickly(command, [option, f"mysql://u:{SECRET}@127.0.0.1:9/db"], capsys)


def test_the_environment_variable_is_masked_too(workdir, capsys, monkeypatch, closed_port):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"postgresql://u:{SECRET}@127.0.0.1:{closed_port}/d")
    refused_quickly(sweep, [], capsys)
    refused_quickly(report, [], capsys)
