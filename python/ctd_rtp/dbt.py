"""Running dbt for the project: one subprocess, output streamed, a clear error on failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .delivery import utf8_copy_dir
from .warehouse import Settings


class DbtFailed(RuntimeError):
    """dbt exited non-zero; the message lists the failing nodes."""


@dataclass(frozen=True)
class DbtResult:
    command: tuple[str, ...]
    returncode: int
    failures: tuple[str, ...]


def dbt_env(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a dbt run: profile in the project, absolute warehouse path, no telemetry."""
    env = dict(os.environ if base is None else base)
    env.update({
        "DBT_PROFILES_DIR": str(settings.project_dir),
        "CTD_RTP_DB": str(settings.db_path),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    })
    if settings.raw_dir is not None:
        env["CTD_RTP_RAW_DIR"] = str(settings.raw_dir)
        # UTF-8 copies of the files delivery.yml declares in another encoding (ctd_rtp.delivery)
        env["CTD_RTP_UTF8_DIR"] = str(utf8_copy_dir(settings.db_path))
    else:
        env.pop("CTD_RTP_RAW_DIR", None)
    return env


def _dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def run_dbt(settings: Settings, args: Sequence[str], quiet: bool = False, target_path: Path | None = None) -> DbtResult:
    """Run `dbt <args>` in the project and raise DbtFailed naming what failed."""
    # DBT_TARGET_PATH lets concurrent builds (tests, benchmarks) keep their artifacts apart
    target = target_path or Path(os.environ.get("DBT_TARGET_PATH") or settings.project_dir / "target")
    command = (
        _dbt_executable(), *args,
        "--project-dir", str(settings.project_dir),
        "--target-path", str(target),
        # env vars (CTD_RTP_RAW_DIR) change what the models read: never trust a stale parse
        "--no-partial-parse",
    )
    proc = subprocess.run(
        command, cwd=settings.project_dir, env=dbt_env(settings),
        stdout=subprocess.PIPE if quiet else None, stderr=subprocess.STDOUT if quiet else None, text=True,
    )
    failures = _failures(target / "run_results.json", settings.db_path if proc.returncode != 0 else None)
    if proc.returncode != 0:
        detail = "\n".join(f"  - {f}" for f in failures) or (proc.stdout or "")[-4000:]
        raise DbtFailed(f"dbt {' '.join(args)} failed (exit {proc.returncode}):\n{detail}")
    return DbtResult(command=command, returncode=proc.returncode, failures=failures)


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
