"""`python -m benchmark.dbt_floor`: what every `ctd-rtp build` pays in dbt before its first node.

The same dbt command line and environment as the build (ctd_rtp.dbt.run_dbt on the private
copy `<warehouse>.building` that `ctd-rtp build` works on, so that partial parsing is reused
or not exactly as in the build), selecting no node: dbt starts, imports itself and the
adapter, reads the project (partial_parse.msgpack when it is valid), finds nothing to do and
exits, without the on-run-start/end hooks. No node runs, so the published warehouse and its
build record are untouched; the copy dbt may have created is removed.

A build target below this floor cannot be met by any build that runs dbt (docs/scale.md).
Settings from the environment, as the CLI reads them (CTD_RTP_DB, CTD_RTP_RAW_DIR,
DBT_TARGET_PATH).
"""

from __future__ import annotations

import sys
from dataclasses import replace

from ctd_rtp.dbt import run_dbt
from ctd_rtp.warehouse import Settings, discard_stale_copy

# a tag no node of the project has (tests/python/test_benchmark_floor.py checks nothing ran)
NO_NODE = "tag:benchmark_dbt_floor_selects_no_node"


def main() -> int:
    settings = Settings.from_env()
    # the path of the build's private copy (a copy a killed run left there is stale anyway)
    building = discard_stale_copy(settings)
    try:
        run_dbt(
            replace(settings, db_path=building),
            ["build", "--exclude-resource-type", "unit_test", "--select", NO_NODE],
            quiet=True,
        )
    finally:
        discard_stale_copy(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
