"""`python -m ctd_rtp.dbt_invoke RUN_RESULTS DBT_ARGS...`: dbt as `ctd-rtp build` runs it.

The same dbt command line as the `dbt` executable (dbt's own `dbtRunner`, in this process, with
dbt's output and exit codes: 0 success, 1 a node failed, 2 dbt could not run), with one
difference: dbt writes no JSON artifacts (`--no-write-json`), and this module writes
`run_results.json` (what `ctd-rtp` and the report read) from dbt's own result object, with
dbt's own writer. dbt would otherwise write `manifest.json` twice per build and
`graph.gpickle` once: 0.6 to 0.9 s of every build, whatever the cohort's size (docs/scale.md).
`target/manifest.json` is therefore not refreshed by `ctd-rtp build`; `dbt parse` (or any
`dbt` command by hand) writes it. Partial parsing (`partial_parse.msgpack`) is unaffected.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m ctd_rtp.dbt_invoke RUN_RESULTS_PATH DBT_ARGS...", file=sys.stderr)
        return 2
    run_results, dbt_args = argv[0], list(argv[1:])
    from dbt.cli.exceptions import DbtInternalException, DbtUsageException
    from dbt.cli.main import dbtRunner
    from dbt.contracts.results import RunExecutionResult

    outcome = dbtRunner().invoke([*dbt_args, "--no-write-json"])
    if isinstance(outcome.result, RunExecutionResult):  # build, run, test ...
        outcome.result.write(run_results)
    if outcome.success:
        return 0
    if outcome.exception is None:
        return 1  # a node errored or failed: dbt printed which, run_results.json holds it
    if isinstance(outcome.exception, (DbtUsageException, DbtInternalException)):
        # dbt logs every error of a run itself, but not one of its command line
        print(f"dbt could not run: {outcome.exception}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
