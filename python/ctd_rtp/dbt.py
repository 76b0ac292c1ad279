"""Running dbt for the project: one subprocess, output streamed, a clear error on failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .delivery import utf8_copy_dir
from .warehouse import Settings


class DbtFailed(RuntimeError):
    """dbt exited non-zero; the message lists the failing nodes (their unique ids in `nodes`)."""

    def __init__(self, message: str, nodes: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.nodes = tuple(nodes)


# Read by profiles.yml: DuckDB's memory_limit and dbt's threads for a build (checked by the CLI)
MEMORY_LIMIT_VAR = "CTD_RTP_DUCKDB_MEMORY_LIMIT"
MEMORY_LIMIT_DEFAULT = "3GB"
THREADS_VAR = "CTD_RTP_DBT_THREADS"
THREADS_DEFAULT = 2
# Raw files larger than this together: one dbt thread unless THREADS_VAR says otherwise. At
# 1,000,000 patients (6.6 GB of CSV) a full build took 964 s with one thread against 1624 and
# 1857 s with two, and two heavy queries once ran out of memory side by side; at 100,000
# (0.64 GB) one and two threads took the same time; small builds are faster with two
# (docs/scale.md).
LARGE_RAW_BYTES = 10**9


def dbt_threads(settings: Settings, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """dbt's thread count for a build, and why: THREADS_VAR when set (the CLI has checked it),
    else one thread for raw files over LARGE_RAW_BYTES, else THREADS_DEFAULT."""
    chosen = ((os.environ if environ is None else environ).get(THREADS_VAR) or "").strip()
    if chosen:
        return chosen, f"{THREADS_VAR}={chosen}"
    raw = 0
    if settings.raw_dir is not None and settings.raw_dir.is_dir():
        raw = sum(p.stat().st_size for p in settings.raw_dir.iterdir() if p.is_file())
    if raw > LARGE_RAW_BYTES:
        return "1", (
            f"the raw files are {raw / 1e9:.1f} GB, over {LARGE_RAW_BYTES / 1e9:.0f} GB: one model or test"
            f" at a time; {THREADS_VAR} sets it"
        )
    return str(THREADS_DEFAULT), "the default"


class BadVars(ValueError):
    """`--vars` is not YAML, not a mapping, names a var the project does not declare, or gives
    a value of the wrong kind (the CLI exits 2)."""


# Vars whose value is one of a few words (the macros raise on anything else, but only after
# dbt has started; saying it up front names the choices).
VAR_CHOICES = {
    "pr_rule": ("and", "or"),
    "missing_bleeding_assessment": ("no_bleeding", "not_evaluable"),
}


# Vars that hold a date ("" = the default the model derives: the latest date in the delivery).
DATE_VARS = ("data_cutoff_date", "study_earliest_date")


def _iso_date(value: Any) -> bool:
    import datetime as dt

    if isinstance(value, dt.date):  # YAML reads 2024-06-30 as a date
        return True
    try:
        dt.date.fromisoformat(str(value))
    except ValueError:
        return False
    return True


def declared_vars(project_dir: Path) -> dict[str, Any]:
    """The vars dbt_project.yml declares, with their defaults."""
    import yaml

    project = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    return dict(project.get("vars") or {})


def parse_vars(text: str | None, project_dir: Path) -> dict[str, Any]:
    """Check `--vars` before dbt sees it: dbt ignores a misspelt var without a word, so a
    sensitivity analysis run with `cr_platelet_treshold` would silently use the default."""
    import yaml

    if text is None or not text.strip():
        return {}
    try:
        given = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BadVars(
            f'--vars is not valid YAML ({" ".join(str(exc).split())}); write a mapping, e.g. --vars "{{pr_rule: or}}"'
        ) from None
    if not isinstance(given, dict):
        raise BadVars(f'--vars must be a mapping such as "{{pr_rule: or}}", got {text!r}')
    declared = declared_vars(project_dir)
    unknown = sorted(str(k) for k in given if k not in declared)
    if unknown:
        import difflib

        hints = [
            f"{u} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(u, declared, n=1)) else u for u in unknown
        ]
        raise BadVars(
            f"unknown var(s) {', '.join(hints)} in --vars; the project declares: "
            f"{', '.join(sorted(declared))} (dbt_project.yml, docs/clinical-rules.md)"
        )
    for name, value in given.items():
        _check_var_value(name, value, declared[name])
    return given


def _check_var_value(name: str, value: Any, default: Any) -> None:
    """A --vars value of the kind its default has (BadVars naming the var otherwise)."""
    if name in VAR_CHOICES and str(value).lower() not in VAR_CHOICES[name]:
        raise BadVars(f"var {name} must be one of {', '.join(VAR_CHOICES[name])}, got {value!r}")
    if name in DATE_VARS and value not in ("", None) and not _iso_date(value):
        raise BadVars(f'var {name} must be an ISO date such as 2024-06-30 (or "" for the default), got {value!r}')
    if isinstance(default, list) and not isinstance(value, list):
        raise BadVars(f"var {name} must be a list (default {default}), got {value!r}")
    if isinstance(default, str) and name not in DATE_VARS and not isinstance(value, str):
        raise BadVars(f"var {name} must be text (default {default!r}), got {value!r}")
    if isinstance(default, bool) and not isinstance(value, bool):
        raise BadVars(f"var {name} must be true or false, got {value!r}")
    if (
        isinstance(default, (int, float))
        and not isinstance(default, bool)
        and (isinstance(value, bool) or not isinstance(value, (int, float)))
    ):
        raise BadVars(f"var {name} must be a number (default {default}), got {value!r}")


@dataclass(frozen=True)
class DbtResult:
    command: tuple[str, ...]
    returncode: int
    failures: tuple[str, ...]


def dbt_env(settings: Settings, base: dict[str, str] | None = None, colours: bool | None = None) -> dict[str, str]:
    """Environment for a dbt run: profile in the project, absolute warehouse path, no telemetry,
    and no colour codes unless standard output is a terminal (cron logs stay plain text)."""
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "DBT_PROFILES_DIR": str(settings.project_dir),
            "CTD_RTP_DB": str(settings.db_path),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DO_NOT_TRACK": "1",
        }
    )
    if colours is None:
        colours = sys.stdout.isatty() and not env.get("NO_COLOR")
    if not colours:
        env["DBT_USE_COLORS"] = "false"
        env["DBT_USE_COLORS_FILE"] = "false"
    env[THREADS_VAR] = dbt_threads(settings, env)[0]  # read by profiles.yml
    if settings.raw_dir is not None:
        env["CTD_RTP_RAW_DIR"] = str(settings.raw_dir)
        # UTF-8 copies of the files delivery.yml declares in another encoding (ctd_rtp.delivery)
        env["CTD_RTP_UTF8_DIR"] = str(utf8_copy_dir(settings.db_path))
    else:
        env.pop("CTD_RTP_RAW_DIR", None)
    return env


def _dbt_executable() -> str:
    """The `dbt` executable a user runs by hand (the tests that do so); ctd-rtp itself runs dbt
    through ctd_rtp.dbt_invoke (run_dbt)."""
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def run_dbt(settings: Settings, args: Sequence[str], quiet: bool = False, target_path: Path | None = None) -> DbtResult:
    """Run `dbt <args>` in the project and raise DbtFailed naming what failed."""
    # DBT_TARGET_PATH lets concurrent builds (tests, benchmarks) keep their artifacts apart
    target = target_path or Path(os.environ.get("DBT_TARGET_PATH") or settings.project_dir / "target")
    # dbt in a child process, writing run_results.json but no manifest.json (ctd_rtp.dbt_invoke)
    command = (
        sys.executable,
        "-m",
        "ctd_rtp.dbt_invoke",
        str(target / "run_results.json"),
        *args,
        "--project-dir",
        str(settings.project_dir),
        "--target-path",
        str(target),
        # Partial parsing (target/partial_parse.msgpack) is kept across runs: dbt re-parses in full
        # when a var, the profile or an env var that dbt_project.yml or profiles.yml reads
        # (CTD_RTP_RAW_DIR, CTD_RTP_DB) changes, and the files whose env vars changed
        # (tests/python/test_dbt_project.py: a demo parse reused for own data).
        "--partial-parse",
    )
    env = dbt_env(settings, colours=False if quiet else None)
    # a dbt that dies before writing (killed, out of memory) leaves no run_results.json rather
    # than the previous run's, whose failures would be reported as this run's
    (target / "run_results.json").unlink(missing_ok=True)
    proc = subprocess.run(
        command,
        cwd=settings.project_dir,
        env=env,
        stdout=subprocess.PIPE if quiet else None,
        stderr=subprocess.STDOUT if quiet else None,
        text=True,
    )
    failures = _failures(target / "run_results.json", settings.db_path if proc.returncode != 0 else None)
    if proc.returncode != 0:
        detail = "\n".join(f"  - {f}" for f in failures) or (proc.stdout or "")[-4000:]
        detail += out_of_memory_hint(detail, env)
        raise DbtFailed(
            f"dbt {' '.join(args)} failed (exit {proc.returncode}):\n{detail}",
            nodes=[f.split(":", 1)[0] for f in failures],
        )
    return DbtResult(command=command, returncode=proc.returncode, failures=failures)


def out_of_memory_hint(detail: str, env: Mapping[str, str]) -> str:
    """For a build that DuckDB stopped at its memory cap: what to change, in this tool's terms,
    from the environment dbt ran with (dbt_env). DuckDB's own advice in the message (SET
    threads, SET memory_limit) is SQL a user of ctd-rtp does not run; the two settings behind
    it are environment variables here."""
    if "Out of Memory Error" not in detail:
        return ""
    limit = env.get(MEMORY_LIMIT_VAR) or f"{MEMORY_LIMIT_DEFAULT} (the default)"
    threads = env.get(THREADS_VAR) or str(THREADS_DEFAULT)
    try:
        machine = f" (this machine has {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB)"
    except (ValueError, OSError, AttributeError):  # no sysconf (not Linux/macOS)
        machine = ""
    hint = f"\nDuckDB ran out of memory under its cap, {MEMORY_LIMIT_VAR}={limit}. Raise it{machine}"
    if threads != "1":
        hint += (
            f", or set {THREADS_VAR}=1 so that dbt runs one model or test at a time instead of {threads}"
            " sharing the cap"
        )
    return hint + "; see docs/scale.md."


def _failures(run_results: Path, db_path: Path | None = None) -> tuple[str, ...]:
    """'<node>: <status>: <message>' for every node that errored or failed.

    For a failed data test, the rows it found (the offending keys) follow on indented lines,
    read back from the warehouse with the test's compiled query (db_path given)."""
    try:
        results = json.loads(run_results.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return ()
    bad = []
    for r in results:
        if r.get("status") in ("error", "fail", "runtime error"):
            lines = [line.strip() for line in (r.get("message") or "").strip().splitlines() if line.strip()]
            # dbt's "> in macro ... > called by ..." trail says where, not what: keep the what
            lines = [line for line in lines if not line.startswith(("> in macro", "> called by"))]
            text = f"{r.get('unique_id')}: {r.get('status')}: {' '.join(lines[:6])}"
            if r.get("status") == "fail" and db_path is not None and r.get("compiled_code"):
                text += "".join(f"\n      {row}" for row in _offending_rows(db_path, r["compiled_code"]))
            bad.append(text)
    return tuple(bad)


def _offending_rows(db_path: Path, compiled_sql: str, limit: int = 5) -> list[str]:
    """The first rows a failed test returned, as 'column=value, ...' (best effort: [] on any problem)."""
    try:
        import duckdb

        with duckdb.connect(str(db_path), read_only=True) as con:
            cursor = con.execute(f"select * from ({compiled_sql.strip().rstrip(';')}) as failing limit {limit + 1}")
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
    except Exception:  # noqa: BLE001 - the failure message stands without the rows
        return []
    shown = [", ".join(f"{n}={v}" for n, v in zip(names, row)) for row in rows[:limit]]
    if len(rows) > limit:
        shown.append("...")
    return [f"offending row: {line}" for line in shown]
