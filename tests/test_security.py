"""Store addresses: no password is ever shown, and a store that does not answer is one line
within seconds, for every URI-taking option of every command. The SLURM job script: no value of
the launcher adds a line to it."""

import os
import re
import shlex
import socket
import time
from pathlib import Path

import pytest

from analysis.report import main as report_main
from resnet.cli.sweep import main as sweep_main
from resnet.core.config import ConfigError
from resnet.core.launcher_config import LauncherConfig
from resnet.runner.slurm import executor
from resnet.runner.storage import dashboard_command
from resnet.tracking.address import masked, password_problem, tracking_address
from resnet.tracking.store import runs_url, ui_command

SECRET = "s3cretPW"


@pytest.fixture(autouse=True)
def passwords_where_they_belong(monkeypatch):
    """The stores' passwords in the environment, where the tools read them: no message of
    any test here may show one."""
    monkeypatch.setenv("PGPASSWORD", SECRET)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", SECRET)


def test_masked_hides_every_kind_of_password():
    assert masked(f"postgresql://u:{SECRET}@db:5432/x") == "postgresql://u:***@db:5432/x"
    assert (
        masked(f"say mysql+pymysql://me:{SECRET}@h/d now") == "say mysql+pymysql://me:***@h/d now"
    )
    assert masked(f"postgresql://h/d?user=u&password={SECRET}&x=1").endswith("password=***&x=1")
    for plain in ("sqlite:///mlruns/mlflow.db", "http://127.0.0.1:5000", "postgresql://u@h/d"):
        assert masked(plain) == plain


def test_an_mlflow_servers_user_leaves_its_uri_for_the_environment(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    assert tracking_address("https://me@host:5000/p", "sqlite:///m.db") == "https://host:5000/p"
    assert os.environ["MLFLOW_TRACKING_USERNAME"] == "me"
    for other in ("postgresql://u@db/mlflow", "http://host:5000", "sqlite:///m@x:y.db"):
        assert tracking_address(other, "sqlite:///m.db") == other  # nothing to move


# Passwords as users write them: with the characters that break pattern-based masking.
PASSWORDS = ["pa/ss" + SECRET, "p@ss" + SECRET, "pa ss" + SECRET, "p%40ss" + SECRET, "p:" + SECRET]
ADDRESSES = [
    *(f"postgresql://u:{p}@127.0.0.1:9/db" for p in PASSWORDS),
    *(f"http://u:{p}@127.0.0.1:9" for p in PASSWORDS),
    f"postgresql://u@127.0.0.1:9/db?sslmode=require&sslpassword={SECRET}",
    f"postgresql://127.0.0.1:9/db?user=u&password={SECRET}",
    f"mysql+pymysql://u:{SECRET}@127.0.0.1:9/db",
]
# Where each kind of store's password goes instead; MySQL's drivers read no PGPASSWORD
PASSWORD_PLACE = {
    "postgresql": "PGPASSWORD",
    "http": "MLFLOW_TRACKING_PASSWORD",
    "mysql+pymysql": "read_default_file=/path/to/my.cnf, and the password in that option file",
}
PLACES = [
    ("sweep", "--tracking-uri"),
    ("sweep", "--storage"),
    ("sweep", "MLFLOW_TRACKING_URI"),
    ("report", "--tracking-uri"),
    ("report", "MLFLOW_TRACKING_URI"),
]


@pytest.mark.parametrize("address", ADDRESSES)
@pytest.mark.parametrize(("command", "place"), PLACES)
def test_a_password_in_an_address_is_refused_unshown_before_anything_runs(
    address, command, place, workdir, monkeypatch, capsys
):
    if place == "MLFLOW_TRACKING_URI":
        monkeypatch.setenv(place, address)
        argv = []
    else:
        argv = [place, address]
    code = {"sweep": sweep, "report": report}[command](*argv)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert err.count("\n") == 1 and f"{place} holds a password" in err, err
    assert SECRET not in out + err
    assert PASSWORD_PLACE[address.split(":")[0]] in err
    assert not list(workdir.iterdir())  # nothing written


def test_each_database_is_told_where_its_own_password_goes():
    said = {
        uri.split(":")[0]: password_problem(uri, "--storage")
        for uri in (
            f"postgresql+psycopg://u:{SECRET}@h/d",
            f"mysql+pymysql://u:{SECRET}@h/d",
            f"mysql://u:{SECRET}@h/d",
            f"mssql+pyodbc://u:{SECRET}@h/d",
        )
    }
    assert "PGPASSWORD" in said["postgresql+psycopg"]
    for mysql in ("mysql+pymysql", "mysql"):
        assert "PGPASSWORD" not in said[mysql] and "option file's [client] section" in said[mysql]
        assert f"give {mysql}://user@host/database?read_default_file=" in said[mysql]
    assert "only PostgreSQL (PGPASSWORD, ~/.pgpass) and MySQL" in said["mssql+pyodbc"]
    assert not any(SECRET in message for message in said.values())


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
    assert SECRET not in out + err
    assert seconds < limit, f"{seconds:.1f} s"


@pytest.mark.parametrize("option", ["--tracking-uri", "--storage"])
@pytest.mark.parametrize("port_kind", ["closed_port", "silent_port"])
def test_sweep_reports_an_unreachable_database_quickly(option, port_kind, request, workdir, capsys):
    port = request.getfixturevalue(port_kind)
    url = f"postgresql://u@127.0.0.1:{port}/db"
    refused_quickly(sweep, [option, url], capsys)
    assert not (workdir / "mlruns").exists()  # nothing written


@pytest.mark.parametrize("port_kind", ["closed_port", "silent_port"])
def test_report_reports_an_unreachable_database_quickly(port_kind, request, workdir, capsys):
    port = request.getfixturevalue(port_kind)
    url = f"postgresql://u@127.0.0.1:{port}/db"
    refused_quickly(report, ["--tracking-uri", url], capsys)


@pytest.mark.parametrize(
    ("command", "option"),
    [(sweep, "--tracking-uri"), (report, "--tracking-uri"), (sweep, "--storage")],
)
def test_a_database_without_its_driver_is_one_masked_line(command, option, workdir, capsys):
    refused_quickly(command, [option, "mysql://u@127.0.0.1:9/db"], capsys)


def test_the_environment_variable_is_masked_too(workdir, capsys, monkeypatch, closed_port):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"postgresql://u@127.0.0.1:{closed_port}/d")
    refused_quickly(sweep, [], capsys)
    refused_quickly(report, [], capsys)


# The job script's own lines besides its #SBATCH options and its srun command
SCRIPT_LINES = {"#!/bin/bash", "", "# Parameters", "# command", "export SUBMITIT_EXECUTOR=slurm"}
SBATCH_LINE = re.compile(r"#SBATCH --([a-z0-9][a-z0-9-]*)=(.+)")
# Values the launcher allows that a shell would act on if they were not quoted
HOSTILE = ["comment=x'; touch PWNED #", 'account=$(touch PWNED) `touch PWNED` "a b"', "qos=a\\"]


def job_script(launcher: LauncherConfig, logs: Path) -> str:
    """The array job's script (3 tasks), as submitit writes it from our executor's parameters."""
    from submitit.slurm.slurm import _make_sbatch_string

    run = executor(launcher, logs)._executor
    command = run._submitit_command_str
    return _make_sbatch_string(command, run.folder, map_count=3, **run.parameters)


def words(text: str) -> list[str] | None:
    """The shell words of `text` where it is exactly their quoted form (shlex.quote each), else
    None."""
    try:
        split = shlex.split(text)
    except ValueError:  # a quote left open
        return None
    return split if shlex.join(split) == text else None


def stray_lines(script: str) -> list[str]:
    """The lines of the script that are none of: an #SBATCH option whose value is one quoted
    word, the one srun command with every word quoted, a line of the script's own."""
    stray, srun = [], 0
    for line in script.splitlines():
        option = SBATCH_LINE.fullmatch(line)
        if option:
            well_formed = len(words(option[2]) or []) == 1
        elif line.startswith("srun "):
            srun += 1
            well_formed = srun == 1 and words(line) is not None
        else:
            well_formed = line in SCRIPT_LINES
        if not well_formed:
            stray.append(line)
    return stray


def script_options(script: str) -> dict[str, str]:
    """Each #SBATCH option of a script without stray lines, and its value."""
    options = (SBATCH_LINE.fullmatch(line) for line in script.splitlines())
    return {option[1]: words(option[2])[0] for option in options if option}


def test_hostile_allowed_values_stay_inside_their_sbatch_lines(tmp_path):
    logs = tmp_path / "logs $(touch PWNED); x'y"
    partition = "gpu;touch PWNED #"
    launcher = LauncherConfig(kind="slurm", partition=partition, sbatch=tuple(HOSTILE))
    script = job_script(launcher, logs)
    assert stray_lines(script) == []
    options = script_options(script)
    assert {k: options[k] for k in ("comment", "account", "qos")} == launcher.sbatch_options()
    assert options["partition"] == partition
    assert options["output"].startswith(f"{logs}/")
    srun = next(line for line in script.splitlines() if line.startswith("srun "))
    assert shlex.split(srun)[-1] == str(logs / "%j")  # the folder: one word, as given


def test_a_value_that_added_a_line_before_is_refused(tmp_path):
    payload = "qos=x\ntouch PWNED #"
    launcher = LauncherConfig(kind="slurm")
    object.__setattr__(launcher, "sbatch", (payload,))  # past the check, as before it was there
    script = job_script(launcher, tmp_path)
    assert stray_lines(script) == ["#SBATCH --qos='x", "touch PWNED #'"]  # a command of each task
    with pytest.raises(ConfigError, match="sbatch options must not hold control characters"):
        LauncherConfig(kind="slurm", sbatch=(payload,))
