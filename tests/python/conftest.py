"""Shared fixtures: warehouses built once per session in temporary folders.

Builds go through the package's own CLI with CTD_RTP_DB / DBT_TARGET_PATH / DBT_LOG_PATH
pointing into tmp, so tests never touch the developer's warehouse.duckdb.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEST_OUTPUT = PROJECT_DIR / "test-output"


@dataclass(frozen=True)
class Built:
    db_path: Path
    env: dict[str, str]
    workdir: Path


def cli_env(workdir: Path, raw_dir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "CTD_RTP_DB": str(workdir / "warehouse.duckdb"),
            "DBT_TARGET_PATH": str(workdir / "target"),
            "DBT_LOG_PATH": str(workdir / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "GX_ANALYTICS_ENABLED": "false",
        }
    )
    env.pop("CTD_RTP_RAW_DIR", None)
    env.pop("CTD_RTP_STUDY", None)  # the demo study unless a test names another
    if raw_dir is not None:
        env["CTD_RTP_RAW_DIR"] = str(raw_dir)
    return env


def run_cli(args: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "ctd_rtp.cli", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"ctd-rtp {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def build(workdir: Path, raw_dir: Path | None = None, extra: list[str] | None = None) -> Built:
    workdir.mkdir(parents=True, exist_ok=True)
    env = cli_env(workdir, raw_dir)
    run_cli(["build", "--quiet", *(extra or [])], env)
    return Built(db_path=workdir / "warehouse.duckdb", env=env, workdir=workdir)


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The bundled synthetic cohort, built and analysed once for the whole session."""
    built = build(tmp_path_factory.mktemp("demo"))
    run_cli(["stats"], built.env)
    return built


@pytest.fixture(scope="session")
def own_cohort_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The small hand-written cohort in fixtures/own_cohort (CSV), via CTD_RTP_RAW_DIR."""
    return build(tmp_path_factory.mktemp("own"), raw_dir=FIXTURES / "own_cohort")


# The fault suite's one-line result. `make test` runs pytest on two workers (pytest-xdist): the
# suite runs in a worker, whose summary nobody sees, so each process writes its lines to a file
# the first process named (inherited through the environment) and that process prints them.
FAULT_SUMMARY = "CTD_RTP_FAULT_SUMMARY"


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the controller, or a run without workers
        os.environ[FAULT_SUMMARY] = tempfile.mkdtemp(prefix="ctd-rtp-faults-")


def pytest_sessionfinish(session: pytest.Session) -> None:
    faults = sys.modules.get("faults")
    folder = os.environ.get(FAULT_SUMMARY)
    if faults is None or not getattr(faults, "RESULTS", None) or not folder:
        return
    lines = [
        f"  not as expected: {r.name} ({r.batch}): {r.detail}" for r in faults.RESULTS.values() if not r.as_expected
    ]
    worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
    (Path(folder) / f"{worker}.txt").write_text("\n".join([*lines, faults.summary_line()]) + "\n", encoding="utf-8")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """After the fault-injection suite (test_faults.py): one line with what it found."""
    if hasattr(terminalreporter.config, "workerinput"):
        return  # a worker: its terminal is not shown; the controller prints every worker's lines
    folder = os.environ.get(FAULT_SUMMARY)
    found = sorted(Path(folder).glob("*.txt")) if folder else []
    if not found:
        return
    terminalreporter.write_sep("-", "bad-input fault injection")
    for path in found:
        for line in path.read_text(encoding="utf-8").splitlines():
            terminalreporter.write_line(line)
    shutil.rmtree(folder, ignore_errors=True)


# Fixtures that build a warehouse with dbt. A test that uses one (directly or through another
# fixture) is marked slow here, so `pytest -m "not slow"` skips every build whichever file the
# test is in; a test that builds by itself carries @pytest.mark.slow (or its module's pytestmark).
BUILDING_FIXTURES = frozenset({"demo_warehouse", "own_cohort_warehouse"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if BUILDING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
