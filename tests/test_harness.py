"""The suite's own machinery: each xdist_group stays in one test process (pyproject.toml pins
the pytest that lets pytest-xdist do so), and no two tests of a run share a folder."""

import pytest

from resnet.tracking.store import Store


@pytest.mark.xdist_group("a-group-of-one")
def test_a_test_of_a_group_runs_under_its_groups_id(request):
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not in a --dist loadgroup test process")  # pytest -n 0: nothing to keep
    assert request.node.nodeid.endswith("@a-group-of-one"), (
        "pytest-xdist lost the test's xdist_group, so every group's servers start in each "
        "process: pytest 9.2 and later break it (pytest-dev/pytest-xdist#1386); "
        "pyproject.toml pins pytest below it, which scripts/setup.sh installs"
    )


# Run one after the other in one process (one group): the second must not get the first's
# folder, where this process's MLflow still holds the first's store, by its URI.
@pytest.mark.xdist_group("same-named-tests")
@pytest.mark.parametrize("turn", ["first", "second"])
def test_tests_of_one_name_in_one_process_each_get_a_new_store(workdir, turn):
    store = Store("sqlite:///mlruns/mlflow.db")
    assert [e.name for e in store.client.search_experiments()] == ["Default"]
    store.client.create_experiment("made-by-this-test")
