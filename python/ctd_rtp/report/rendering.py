"""Rendering and writing the report: the template, atomic files, and the whole run
(:func:`generate_report`: read, validate, build the context, render, write)."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ..forked import Forked
from ..validation import ValidationSummary, validate_in_background
from ..warehouse import Reader, Settings, reader_for
from .context import RESULTS, build_context
from .loading import BUILD_RECORD, collect_run_info, load_warehouse
from .results import SUPPRESSED

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


@dataclass(frozen=True)
class ReportResult:
    dated_path: Path
    latest_path: Path
    validation: ValidationSummary
    docx_path: Path | None = None


def render(context: Mapping[str, Any]) -> str:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(**context)


def _write_atomically(path: Path, text: str) -> None:
    """Temp file in the same folder, then os.replace: readers see the old or the new file."""
    _write_bytes_atomically(path, text.encode("utf-8"))


def _write_bytes_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _step(log: Callable[[str], None], name: str) -> Iterator[list[str]]:
    """One log line per step with its duration (and a detail the step appends)."""
    started = time.perf_counter()
    detail: list[str] = []
    try:
        yield detail
    except BaseException:
        log(f"report: {name} FAILED after {time.perf_counter() - started:.2f}s")
        raise
    log(f"report: {name}{': ' + detail[0] if detail else ''} ({time.perf_counter() - started:.2f}s)")


def _validation_step(
    log: Callable[[str], None], validation: Forked[ValidationSummary], started: float
) -> ValidationSummary:
    """Wait for the background validation; log its line as the other steps log theirs, timed from
    its start (it overlapped the context build)."""
    try:
        summary = validation.result()
    except BaseException:
        log(f"report: validate FAILED after {time.perf_counter() - started:.2f}s")
        raise
    detail = f"{summary.n_passed}/{summary.n_expectations} expectations passed in {summary.n_suites} suites"
    detail += f", {summary.seconds:.2f}s in a child process alongside the context"
    log(f"report: validate: {detail} ({time.perf_counter() - started:.2f}s)")
    return summary


def generate_report(
    settings: Settings,
    out_dir: Path,
    log: Callable[[str], None] = print,
    now: datetime | None = None,
    reader: Reader | None = None,
    docx: bool = False,
) -> ReportResult:
    """Read, validate, build, render and write the report (with ``docx``, its result tables as
    a Word file too, ``ctd_rtp_report_<time>.docx`` and ``_latest.docx``). On ValidationFailed
    nothing is written and earlier reports stay as they were. The reader defaults to the engine
    settings.engine names (the CLI builds the settings from the environment)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    out_dir = Path(out_dir)
    reader = reader or reader_for(settings)
    with _step(log, "read tables") as note:
        frames, fingerprint = load_warehouse(settings, reader)
        note.append(f"{len(frames)} tables from {reader.location}")
    # Great Expectations validates the frames in a child process while this one builds the
    # context (figures, tables) on the other core; the report is rendered only once validation
    # has passed, and a validation failure wins over any error of the context it overlapped.
    validation_started = time.perf_counter()
    validation = validate_in_background(frames, fingerprint)
    try:
        with _step(log, "build context") as note:
            # the summary is filled in below, when validation has finished
            context = build_context(
                frames, collect_run_info(settings, now, fingerprint, None, reader, frames.get(BUILD_RECORD))
            )
            note.append(f"{len(context['figures'])} figures")
    except Exception:
        _validation_step(log, validation, validation_started)  # raises ValidationFailed first, if it failed
        raise
    except BaseException:
        validation.cancel()
        raise
    summary = _validation_step(log, validation, validation_started)
    context["quality"]["gx"] = summary
    with _step(log, "render") as note:
        html = render(context)
        note.append(f"{len(html) / 1024:.0f} KiB")
    with _step(log, "write") as note:
        out_dir.mkdir(parents=True, exist_ok=True)
        dated = out_dir / f"ctd_rtp_report_{now.strftime('%Y%m%dT%H%M%SZ')}.html"
        latest = out_dir / "ctd_rtp_report_latest.html"
        _write_atomically(dated, html)
        _write_atomically(latest, html)
        note.append(f"{dated.name} and {latest.name}")
    docx_path = None
    if docx:
        from .word import docx_bytes

        with _step(log, "word file") as note:
            cut = context["suppression"]["min_cell_count"]
            notes = [
                "SYNTHETIC DATA: no real patients." if context["synthetic"] else "",
                (
                    f"Small-cell suppression: counts from 1 to {cut - 1} are shown as <{cut}, and numbers "
                    f"computed from them (rates, CIs, p values, medians of a group) as '{SUPPRESSED}'."
                )
                if cut > 1
                else "",
            ]
            data = docx_bytes(frames[RESULTS], context["title"], " ".join(n for n in notes if n))
            docx_path = out_dir / f"ctd_rtp_report_{now.strftime('%Y%m%dT%H%M%SZ')}.docx"
            _write_bytes_atomically(docx_path, data)
            _write_bytes_atomically(out_dir / "ctd_rtp_report_latest.docx", data)
            note.append(f"{docx_path.name} and ctd_rtp_report_latest.docx ({len(data) / 1024:.0f} KiB)")
    return ReportResult(dated_path=dated, latest_path=latest, validation=summary, docx_path=docx_path)
