"""The delivery gate: may a finished build replace the published warehouse? (docs/data-rejection.md)

`ctd-rtp build` and `ctd-rtp run` build on a private copy and publish it only when the delivery
is sound. The rules, as pure functions of counts (`refusals`):

1. per raw table, the share of quarantined rows must not exceed var `max_quarantined_share`
   (read from `quarantine.delivery_summary`, which records the value in force for the build);
2. no mart that had rows in the published warehouse becomes empty;
3. the core marts never come out empty, first load included, and the refusal names the cause
   (all patients quarantined, no patient with a clean exposure to the index drug, every lab result
   quarantined).

The I/O edge (`read_delivery`, `mart_rows`) reads the working copy and, before dbt runs, the copy
of the published warehouse it starts from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from .warehouse import connect

# The dbt-level twin of rule 1 (tests/singular): its failure is explained by this module instead.
DBT_TEST = "test.ctd_rtp.assert_delivery_quarantine_within_threshold"

# Core marts, and the cause told when one is empty: what the study cannot do without.
CORE_MARTS = ("dim_patients", "fct_platelet_response", "rpt_response_rates", "fct_lab_results")


class DeliveryRefused(RuntimeError):
    """The delivery breaks a gate rule: nothing was published (exit 3)."""


@dataclass(frozen=True)
class TableDelivery:
    """One row of quarantine.delivery_summary."""

    table: str
    delivered: int
    clean: int
    quarantined: int
    top_reasons: str | None = None
    with_bad_fields: int = 0  # clean rows with a field nulled (quarantine.quarantined_fields)

    @property
    def share(self) -> float:
        return (self.quarantined + self.with_bad_fields) / self.delivered if self.delivered else 0.0

    def counts(self) -> str:
        fields = f" and {self.with_bad_fields} with a field nulled" if self.with_bad_fields else ""
        return f"{self.quarantined} of {self.delivered} rows quarantined{fields} ({self.share:.1%})"


@dataclass(frozen=True)
class Delivery:
    """What the gate knows about a finished build."""

    tables: tuple[TableDelivery, ...]
    max_share: float
    marts: Mapping[str, int]  # mart -> rows in the working copy
    patients_with_index_dose: int = 0  # dim_patients rows with a clean index-drug start

    def table(self, name: str) -> TableDelivery:
        return next((t for t in self.tables if t.table == name), TableDelivery(name, 0, 0, 0))


@dataclass(frozen=True)
class Refusal:
    rule: str  # "quarantined share", "core mart empty", "mart emptied"
    subject: str  # the raw table or the mart(s)
    message: str


def _reasons(t: TableDelivery) -> str:
    return f"; top reasons: {t.top_reasons}" if t.top_reasons else ""


def share_refusals(tables: Sequence[TableDelivery], max_share: float) -> list[Refusal]:
    """Rule 1: every table whose quarantined share exceeds max_share."""
    return [
        Refusal("quarantined share", t.table,
                f"{t.table}: {t.counts()}, more than max_quarantined_share {max_share:.1%}{_reasons(t)}")
        for t in tables if t.share > max_share
    ]


def _listing(marts: Sequence[str], previous: Mapping[str, int] | None) -> str:
    had = previous or {}
    return ", ".join(f"marts.{m}" + (f" (had {had[m]} rows when last published)" if had.get(m) else "") for m in marts)


def core_refusals(delivery: Delivery, previous: Mapping[str, int] | None = None) -> list[Refusal]:
    """Rule 3: an empty core mart, with the cause traced back to the raw tables.

    A cause that empties the whole cohort (no clean patient, nobody with a day 0) names every mart
    it empties: the core ones, and those that had rows when last published."""
    marts = delivery.marts
    empty_core = [m for m in CORE_MARTS if marts.get(m, 1) == 0]
    if not empty_core:
        return []
    emptied = [m for m, rows in sorted((previous or {}).items())
               if rows > 0 and marts.get(m, 0) == 0 and m not in empty_core]
    patients = delivery.table("patients")
    if marts.get("dim_patients", 1) == 0:
        cause = ("patients holds no rows" if patients.delivered == 0
                 else f"all patients quarantined: {patients.counts()}{_reasons(patients)}")
    elif delivery.patients_with_index_dose == 0:
        exposures = delivery.table("drug_exposures")
        cause = (f"no patient has an index dose: 0 of {marts.get('dim_patients', 0)} patients have a clean "
                 f"exposure to the index drug (drug_exposures: {exposures.delivered} rows, {exposures.clean} clean"
                 f"{_reasons(exposures)})")
    else:  # patients with a day 0 exist: each empty core mart on its own
        out = []
        labs = delivery.table("lab_results")
        for mart in empty_core:
            if mart == "fct_lab_results" and labs.clean == 0:
                why = ("lab_results holds no rows" if labs.delivered == 0
                       else f"no clean lab result (all {labs.delivered} rows of lab_results quarantined)")
            else:
                why = f"{delivery.patients_with_index_dose} patients have a day 0, yet the mart has no row"
            out.append(Refusal("core mart empty", mart, f"{_listing([mart], previous)} would be empty: {why}"))
        return out
    affected = [*empty_core, *emptied]
    return [Refusal("core mart empty", ", ".join(affected), f"{_listing(affected, previous)} would be empty: {cause}")]


def emptied_refusals(current: Mapping[str, int], previous: Mapping[str, int] | None,
                     already: Sequence[str] = ()) -> list[Refusal]:
    """Rule 2: a mart with rows in the published warehouse that this build leaves empty."""
    return [
        Refusal("mart emptied", mart, f"marts.{mart} had {rows} rows in the published warehouse and would have 0")
        for mart, rows in sorted((previous or {}).items())
        if rows > 0 and current.get(mart, 0) == 0 and mart not in already
    ]


def refusals(delivery: Delivery, previous: Mapping[str, int] | None) -> list[Refusal]:
    """Every rule the delivery breaks, each said once (an empty core mart is not also 'emptied')."""
    core = core_refusals(delivery, previous)
    covered = [m.strip() for r in core for m in r.subject.split(",")]
    return [*share_refusals(delivery.tables, delivery.max_share), *core,
            *emptied_refusals(delivery.marts, previous, covered)]


def refusal_message(found: Sequence[Refusal], max_share: float) -> str:
    lines = "\n".join(f"  - {r.message}" for r in found)
    return (f"delivery refused, nothing published (the previous warehouse and report stay as they were):\n{lines}\n"
            f"Fix the delivery and build again; to publish it anyway: --accept-delivery"
            + (f" (or raise the threshold, e.g. --vars \"{{max_quarantined_share: {min(1.0, max_share * 4):g}}}\")"
               if any(r.rule == "quarantined share" for r in found) else ""))


def accepted_line(found: Sequence[Refusal]) -> str:
    return "warning: delivery accepted with --accept-delivery although the gate would refuse it: " + \
        " | ".join(r.message for r in found)


# --------------------------------------------------------------------------- I/O edge

def mart_rows(db_path: Path) -> dict[str, int] | None:
    """Rows per table or view of schema marts; None when the file or the schema does not exist."""
    if not db_path.exists():
        return None
    with connect(db_path) as con:
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()]
        if not names:
            return None
        return {n: con.execute(f'select count(*) from marts."{n}"').fetchone()[0] for n in names}


def read_delivery(db_path: Path) -> Delivery:
    """The facts of the build in db_path (the working copy, after dbt)."""
    with connect(db_path) as con:
        rows = con.execute(
            "select source_table, rows_delivered, rows_clean, rows_quarantined, top_reasons, max_quarantined_share, "
            "rows_with_quarantined_fields from quarantine.delivery_summary order by table_order").fetchall()
        (with_index,) = con.execute(
            "select count(*) from marts.dim_patients where has_index_drug_start").fetchone()
    marts = mart_rows(db_path) or {}
    tables = tuple(TableDelivery(t, int(d), int(c), int(q), r, int(f)) for t, d, c, q, r, _, f in rows)
    max_share = float(rows[0][5]) if rows else 0.05
    return Delivery(tables, max_share, marts, int(with_index))
