"""Every shell command the README and docs/ show is run by a test, or listed here as
illustrative with the reason (one visible place), so the docs cannot drift from the behaviour.

Commands are the lines of ```sh / ```bash / ```cron code blocks (comments and continuation
lines folded). Each must appear in exactly one of RUN (this file runs it, in a scratch folder,
with placeholders such as /path/to/folder and DIR replaced), ELSEWHERE (another test or the
CI script runs it: the file named must contain the command's distinctive text) or
ILLUSTRATIVE (it cannot run here, e.g. systemd). An entry no doc shows any more fails too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from conftest import FIXTURES, PROJECT_DIR, Built, cli_env

pytestmark = pytest.mark.slow

DOCS = (PROJECT_DIR / "README.md", *sorted((PROJECT_DIR / "docs").glob("*.md")))
SHELL_BLOCK = re.compile(r"```(sh|bash|console|shell|cron)\n(.*?)```", re.S)


def documented_commands() -> dict[str, list[str]]:
    """command -> the doc files that show it."""
    found: dict[str, list[str]] = {}
    for doc in DOCS:
        for block in SHELL_BLOCK.finditer(doc.read_text(encoding="utf-8")):
            lines: list[str] = []
            for raw in block.group(2).splitlines():
                line = raw.rstrip()
                if lines and (lines[-1].endswith("\\") or lines[-1].count('"') % 2):  # continuation
                    lines[-1] = lines[-1].rstrip("\\").rstrip() + " " + line.strip()
                    continue
                lines.append(line)
            for line in lines:
                command = re.sub(r"\s+#\s.*$", "", line).strip()
                if command and not command.startswith("#") and not re.match(r"^[A-Z_]+=\S*$", command):
                    found.setdefault(command, []).append(doc.name)
    return found


@dataclass(frozen=True)
class Run:
    """Run the command with bash in the project root, CTD_RTP_DB etc. in a scratch folder."""

    needs_warehouse: bool = False  # a copy of the demo warehouse (built, with statistics) first
    expect: tuple[str, ...] = ()  # text the output must contain


RUN: dict[str, Run] = {
    "make run": Run(expect=("all done",)),
    "CTD_RTP_RAW_DIR=/path/to/folder make run": Run(expect=("own data in", "all done")),
    "CTD_RTP_PSEUDONYM_SALT='a long secret' make run": Run(expect=("all done",)),
    ".venv/bin/python -c \"import duckdb; print(duckdb.connect('warehouse.duckdb', read_only=True).sql( "
    "'select visit, n_cr, n_pr, n_responders, n_evaluable, round(orr, 3) as orr from marts.rpt_response_rates "
    "order by visit_order'))\"": Run(needs_warehouse=True, expect=("month_3", "0.615", "0.769")),
    ".venv/bin/ctd-rtp build": Run(expect=("dbt build",)),
    ".venv/bin/ctd-rtp stats": Run(needs_warehouse=True, expect=("analysis.paired_tests",)),
    ".venv/bin/ctd-rtp report": Run(needs_warehouse=True, expect=("report written",)),
    ".venv/bin/ctd-rtp synth --out DIR --patients 500 --seed 1": Run(expect=("synthesize 500 patients",)),
    ".venv/bin/ctd-rtp synth --out DIR --lab-extract 0.01": Run(expect=("SYNTHETIC lab extract",)),
    ".venv/bin/ctd-rtp build --full-refresh": Run(expect=("full refresh: --full-refresh asked for",)),
    "CTD_RTP_RAW_DIR=/path/to/folder .venv/bin/ctd-rtp build": Run(expect=("own data in",)),
    ".venv/bin/ctd-rtp check /path/to/folder": Run(expect=("verdict: OK",)),
    ".venv/bin/ctd-rtp check DIR": Run(expect=("verdict: OK",)),
    (
        ".venv/bin/python -c \"import duckdb; print(duckdb.connect('warehouse.duckdb', read_only=True).sql("
        '\\"select row_id, column_id, formatted, value, source from analysis.report_results '
        "where table_id = 'response_by_visit' and column_id in ('responders', 'orr') order by row_order\\\"))\""
    ): Run(needs_warehouse=True, expect=("10/13", "76.9%", "marts.rpt_response_rates")),
}

# command -> (file that runs it, the text that file must contain)
ELSEWHERE: dict[str, tuple[str, str]] = {
    "CTD_RTP_RAW_DIR=tests/python/fixtures/study_eltrombopag/data "
    "CTD_RTP_STUDY=tests/python/fixtures/study_eltrombopag/study.yml "
    "CTD_RTP_DB=/tmp/elt/warehouse.duckdb .venv/bin/ctd-rtp run": (
        "tests/python/test_second_study.py",
        'run_cli(["run", "--quiet", "--out-dir"',
    ),
    "make test": (".ci/run", "make test"),
    "make test-spark": (".ci/run", "make test-spark"),
    '.venv/bin/ctd-rtp run --vars "{pr_rule: or}"': ("tests/python/test_rule_variants.py", "readme_variants"),
    ".venv-spark/bin/dbt build --target spark": ("Makefile", "$(SPARK_BIN)/dbt build --target spark"),
    "CTD_RTP_RAW_DIR=/path/to/folder .venv-spark/bin/dbt build --target spark": (
        "Makefile",
        "CTD_RTP_RAW_DIR=$(2) DBT_TARGET_PATH=$(SPARK_PARITY)/target-spark-own",
    ),
    "CTD_RTP_ENGINE=spark .venv-spark/bin/ctd-rtp stats": (
        "Makefile",
        "CTD_RTP_ENGINE=spark $(SPARK_BIN)/ctd-rtp stats",
    ),
    "CTD_RTP_ENGINE=spark .venv-spark/bin/ctd-rtp report --out-dir reports-spark": (
        "Makefile",
        "$(SPARK_BIN)/ctd-rtp report --out-dir",
    ),
}

# test_the_documented_gate_commands runs the sh blocks of data-rejection.md section 7 as written
GATE_SECTION = ("tests/python/test_gate.py", 'split("## 7. The delivery gate")')
ELSEWHERE.update(
    {
        "CTD_RTP_RAW_DIR=/path/to/folder .venv/bin/ctd-rtp build --accept-delivery": GATE_SECTION,
        'CTD_RTP_RAW_DIR=/path/to/folder .venv/bin/ctd-rtp build --vars "{max_quarantined_share: 0.2}"': GATE_SECTION,
        'DBT_PROFILES_DIR=. .venv/bin/dbt build --vars "{accept_delivery: true}"': GATE_SECTION,
        ".venv/bin/python -c \"import duckdb; duckdb.connect('warehouse.duckdb', read_only=True).sql( "
        "'select source_table, rows_delivered, rows_clean, rows_quarantined, round(quarantined_share, 3), top_reasons "
        "from quarantine.delivery_summary order by table_order').show()\"": GATE_SECTION,
    }
)

ILLUSTRATIVE: dict[str, str] = {
    "make benchmark": "minutes of CPU per size on 2 cores; tests/python/test_benchmark_references.py checks its "
    "references of the core job against the marts",
    "sudo systemctl daemon-reload": "systemd is not running in CI; docs/scheduling.md shows the unit files",
    "sudo systemctl enable --now ctd-rtp.timer": "systemd",
    "systemctl list-timers ctd-rtp.timer": "systemd",
    "sudo systemctl start ctd-rtp.service": "systemd",
    "journalctl -u ctd-rtp.service -n 50": "systemd",
    "systemctl show ctd-rtp.service -p ExecMainStatus": "systemd",
    'CTD_RTP_ENGINE=spark .venv-spark/bin/python -c "from ctd_rtp.warehouse import read_mart; '
    "print(read_mart('rpt_response_rates'))\"": "needs the Spark virtualenv and warehouse of `make test-spark`",
}


def _cron(command: str) -> bool:
    return bool(re.match(r"^(\S+\s+){5}cd ", command)) or command.startswith(("SHELL=", "PATH="))


def test_every_documented_command_is_accounted_for() -> None:
    shown = documented_commands()
    listed = {*RUN, *ELSEWHERE, *ILLUSTRATIVE}
    missing = sorted(c for c in shown if c not in listed and not _cron(c))
    assert not missing, "documented commands no test runs (add them to RUN, ELSEWHERE or ILLUSTRATIVE):\n" + "\n".join(
        f"  {c}   ({', '.join(shown[c])})" for c in missing
    )
    stale = sorted(c for c in listed if c not in shown)
    assert not stale, f"listed here but shown in no doc: {stale}"


@pytest.mark.parametrize("command", sorted(ELSEWHERE))
def test_command_is_run_elsewhere(command: str) -> None:
    path, text = ELSEWHERE[command]
    assert text in (PROJECT_DIR / path).read_text(encoding="utf-8"), f"{path} does not run {command!r}"


def test_cron_lines_run_the_documented_targets() -> None:
    """A cron line is a wrapper around `make run` or `ctd-rtp report`, both run above."""
    crons = [c for c in documented_commands() if _cron(c) and not c.startswith(("SHELL=", "PATH="))]
    assert crons
    for line in crons:
        assert "make run" in line or ".venv/bin/ctd-rtp report" in line, line


@pytest.mark.parametrize("command", sorted(RUN))
def test_documented_command_runs(command: str, demo_warehouse: Built, tmp_path: Path) -> None:
    spec = RUN[command]
    env = cli_env(tmp_path)
    for inherited in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):  # when `make test` runs this test
        env.pop(inherited, None)
    own = tmp_path / "own"
    shutil.copytree(FIXTURES / "own_cohort", own)
    synth = tmp_path / "synth"
    if "--lab-extract" in command:  # the extract is added to a cohort written first
        subprocess.run(
            [str(PROJECT_DIR / ".venv/bin/ctd-rtp"), "synth", "--out", str(synth), "--patients", "20"],
            env=env,
            check=True,
            capture_output=True,
        )
    if spec.needs_warehouse:
        shutil.copy(demo_warehouse.db_path, env["CTD_RTP_DB"])
    text = (
        command.replace("/path/to/folder", str(own))
        .replace("--out DIR", f"--out {synth}")
        .replace("check DIR", f"check {own}")
        .replace("'warehouse.duckdb'", repr(env["CTD_RTP_DB"]))
    )
    proc = subprocess.run(["bash", "-c", text], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{command} exited {proc.returncode}:\n{out[-4000:]}"
    for fragment in spec.expect:
        assert fragment in out, f"{command}: {fragment!r} not in the output:\n{out[-3000:]}"
    if "make run" in command:
        with duckdb.connect(env["CTD_RTP_DB"], read_only=True) as con:
            assert con.execute("select count(*) from marts.rpt_response_rates").fetchone()[0] == 3
    if "make run" in command or "ctd-rtp report" in command:  # reports go beside their warehouse
        assert (tmp_path / "reports" / "ctd_rtp_report_latest.html").exists()
