"""delivery.yml as ctd-rtp reads it (python/ctd_rtp/delivery.py): settings, errors, encodings.

Fast (no build). The dbt reading of the same file (macros/delivery.sql) is compared with this
one on the export corpus in test_delivery_corpus.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ctd_rtp import delivery


def _folder(tmp_path: Path, text: str | None) -> Path:
    if text is not None:
        (tmp_path / "delivery.yml").write_text(text, encoding="utf-8")
    return tmp_path


def test_absent_delivery_yml_is_the_defaults(tmp_path: Path) -> None:
    d = delivery.load(tmp_path)
    assert not d.declared
    assert d.format_for("lab_results") == delivery.DEFAULTS


def test_top_level_then_file_settings(tmp_path: Path) -> None:
    d = delivery.load(
        _folder(
            tmp_path,
            """
date_order: dmy
decimal_separator: ","
missing_values: [NA, "-"]
files:
  lab_results.csv: {encoding: GBK, thousands_separator: "."}
  lab_results_2026-12.csv: {encoding: windows_1252}
""",
        )
    )
    lab = d.format_for("lab_results")
    assert (lab["date_order"], lab["decimal_separator"], lab["thousands_separator"], lab["encoding"]) == (
        "dmy",
        ",",
        ".",
        "gbk",
    )
    assert lab["missing_values"] == ["NA", "-"]
    assert d.format_for("lab_results_2026-12.csv")["encoding"] == "windows-1252"
    assert d.format_for("patients")["encoding"] == "utf-8"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date_order: dym\n", "delivery.yml: date_order is dym; expected ymd, dmy or mdy"),
        ("decimal: ','\n", "delivery.yml: unknown setting decimal; the settings are encoding, date_order"),
        ("booleans: {true_values: [yes]}\n", "booleans.true_values holds True: write each spelling in double quotes"),
        (
            'decimal_separator: ","\nthousands_separator: ","\n',
            "uses , as both the decimal and the thousands separator",
        ),
        ("files: {patients.csv: {encoding: klingon}}\n", "files.patients.csv.encoding: unknown encoding 'klingon'"),
        ("sex: {W: [woman]}\n", "delivery.yml: unknown key sex.W; expected F, M"),
        ("- dmy\n", "delivery.yml: expected settings (key: value lines)"),
        ("files: {lab_results_2026-12.csv: {date_order: dmy}}\n", "a lab extract file declares only its encoding"),
    ],
)
def test_bad_settings_name_the_setting(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(delivery.DeliveryError) as caught:
        delivery.load(_folder(tmp_path, text))
    assert message in str(caught.value)


def test_utf8_copies_of_declared_encodings_leave_the_file_alone(tmp_path: Path) -> None:
    raw = _folder(tmp_path / "raw", None)
    raw.mkdir()
    (raw / "delivery.yml").write_text(
        "files: {adverse_events.csv: {encoding: latin-1}, lab_results.csv: {encoding: gbk}}\n"
    )
    latin = "ae_id,term\nAE1,Ulcération\n".encode("latin-1")
    gbk = "result_id,test_code\nA1,血小板计数\n".encode("gbk")
    (raw / "adverse_events.csv").write_bytes(latin)
    (raw / "lab_results.csv").write_bytes(gbk)
    (raw / "patients.csv").write_text("patient_id\nA\n")
    out = tmp_path / "wh.duckdb.utf8"
    assert delivery.write_utf8_copies(raw, out) == [("adverse_events.csv", "latin-1"), ("lab_results.csv", "gbk")]
    assert (out / "adverse_events.csv").read_text(encoding="utf-8") == "ae_id,term\nAE1,Ulcération\n"
    assert (out / "lab_results.csv").read_text(encoding="utf-8") == "result_id,test_code\nA1,血小板计数\n"
    assert (raw / "adverse_events.csv").read_bytes() == latin  # never edited in place
    assert not (out / "patients.csv").exists()


def test_a_byte_the_declared_encoding_cannot_read_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "delivery.yml").write_text("encoding: gbk\n")
    (tmp_path / "visit_assessments.csv").write_bytes(b"patient_id\nA\n\x81 B\n")
    with pytest.raises(delivery.DeliveryError, match="visit_assessments.csv line 3: byte 0x81 cannot be read as gbk"):
        delivery.write_utf8_copies(tmp_path, tmp_path / "out")


def test_utf8_copy_dir_is_beside_the_published_warehouse() -> None:
    assert delivery.utf8_copy_dir(Path("/w/warehouse.duckdb.building")) == Path("/w/warehouse.duckdb.utf8")


def test_a_changed_delivery_yml_is_a_full_refresh(tmp_path: Path) -> None:
    from ctd_rtp import incremental

    (tmp_path / "lab_results.csv").write_text("result_id\n")
    (tmp_path / "delivery.yml").write_text("date_order: ymd\n")
    before = incremental.current_inputs(Path(__file__).resolve().parents[2], tmp_path)
    (tmp_path / "delivery.yml").write_text("date_order: dmy  # the lab says so\n")
    after = incremental.current_inputs(Path(__file__).resolve().parents[2], tmp_path)
    assert incremental.plan(before, after) == incremental.Plan(True, "delivery.yml changed")
