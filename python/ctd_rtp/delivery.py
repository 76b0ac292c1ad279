"""Declared delivery formats: `delivery.yml` beside the raw files (docs/data-contract.md).

The dbt macros read the same file (macros/delivery.sql) to parse values; this module reads it
for `ctd-rtp check` and for the one thing dbt cannot do on DuckDB, reading a file in another
encoding: `ctd-rtp build` writes a UTF-8 copy of each such file beside the warehouse (Python's
codecs; the delivered file is never changed) and points dbt at it (CTD_RTP_UTF8_DIR).
The two readings of delivery.yml are pinned to the same outcome by tests/python/test_delivery_corpus.py.
"""

from __future__ import annotations

import codecs
import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DELIVERY_FILE = "delivery.yml"
LOCAL_MAP_FILE = "lab_test_map.csv"
UTF8_NAMES = ("utf-8", "utf8", "utf-8-sig")

DEFAULTS: dict[str, Any] = {
    "encoding": "utf-8",
    "date_order": "ymd",
    "date_formats": [],
    "decimal_separator": ".",
    "thousands_separator": "",
    "missing_values": [],
    "sex": {"F": [], "M": []},
    "booleans": {"true_values": [], "false_values": []},
}
DEFAULT_TRUE = ("true", "t", "yes", "y", "1")
DEFAULT_FALSE = ("false", "f", "no", "n", "0")


class DeliveryError(ValueError):
    """delivery.yml cannot be used as written (the message names the setting)."""


@dataclass(frozen=True)
class Delivery:
    """The parsed delivery.yml of one folder: top-level settings and per-file blocks."""

    folder: Path
    top: dict[str, Any]
    files: dict[str, dict[str, Any]]
    declared: bool

    def format_for(self, file_name: str) -> dict[str, Any]:
        """The settings in force for one file ('lab_results.csv'; a bare table name looks up its .csv/.parquet)."""
        if "." not in file_name:
            block = self.files.get(f"{file_name}.csv") or self.files.get(f"{file_name}.parquet")
            where = f"files.{file_name}"
        else:
            block, where = self.files.get(file_name), f"files.{file_name}"
            if file_name.startswith("lab_results_") and isinstance(block, dict) and set(block) - {"encoding"}:
                # the extracts of a table are parsed together, in the table's format
                raise DeliveryError(
                    f"delivery.yml: files.{file_name}: a lab extract file declares only its encoding; the value "
                    "formats are those of lab_results.csv (declare them there or at the top level)"
                )
        return _merge(self.top, block, where)


def _spellings(where: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise DeliveryError(f'delivery.yml: {where} must be a list of spellings, e.g. ["ja", "是"]')
    out = []
    for item in value:
        if item is None or isinstance(item, bool):
            raise DeliveryError(
                f"delivery.yml: {where} holds {item}: write each spelling in double quotes "
                "(YAML reads an unquoted yes, no, on, off, null as a boolean or empty)"
            )
        out.append(str(item))
    return out


def _choice(allowed: tuple[str, ...], expected: str) -> Callable[[str, Any], Any]:
    def check(at: str, value: Any) -> Any:
        if value not in allowed:
            raise DeliveryError(f"delivery.yml: {at} is {value}; expected {expected}")
        return value

    return check


def _thousands_separator(at: str, value: Any) -> str:
    value = "" if value is None else value
    if value not in ("", ",", ".", " ", "'"):
        raise DeliveryError(f"""delivery.yml: {at} is {value}; expected "" (none), ",", ".", " " or "'\"""")
    return str(value)


def _encoding(at: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DeliveryError(f"delivery.yml: {at} must be an encoding name (utf-8, latin-1, windows-1252, gbk, ...)")
    name = value.strip().lower().replace("_", "-")
    try:
        codecs.lookup(name)
    except LookupError:
        raise DeliveryError(
            f"delivery.yml: {at}: unknown encoding {value!r} (e.g. utf-8, latin-1, windows-1252, gbk, gb18030)"
        ) from None
    return name


# One validator per plain setting; the others (booleans, sex) are mappings of spelling lists.
_SETTING_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "date_order": _choice(("ymd", "dmy", "mdy"), "ymd, dmy or mdy"),
    "decimal_separator": _choice((".", ","), '"." or ","'),
    "thousands_separator": _thousands_separator,
    "encoding": _encoding,
    "date_formats": lambda at, value: _spellings(at, value),
    "missing_values": lambda at, value: _spellings(at, value),
}


def _spelling_mapping(key: str, at: str, value: Any, current: dict[str, Any]) -> None:
    if not isinstance(value, dict):
        raise DeliveryError(f"delivery.yml: {at} must be a mapping with keys {', '.join(DEFAULTS[key])}")
    for inner_key, spellings in value.items():
        if inner_key not in DEFAULTS[key]:
            raise DeliveryError(f"delivery.yml: unknown key {at}.{inner_key}; expected {', '.join(DEFAULTS[key])}")
        current[inner_key] = _spellings(f"{at}.{inner_key}", spellings)


def _merge(base: Mapping[str, Any], block: Any, where: str) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    if block is None:
        return out
    if not isinstance(block, dict):
        raise DeliveryError(f"delivery.yml: {where} must be a mapping of settings")
    for key, value in block.items():
        at = f"{where}.{key}" if where else str(key)
        if key == "files" and where == "":
            continue
        if key not in DEFAULTS:
            extra = ", files" if where == "" else ""
            raise DeliveryError(f"delivery.yml: unknown setting {at}; the settings are {', '.join(DEFAULTS)}{extra}")
        if key in _SETTING_CHECKS:
            out[key] = _SETTING_CHECKS[key](at, value)
        else:
            _spelling_mapping(key, at, value, out[key])
    if out["decimal_separator"] == out["thousands_separator"]:
        raise DeliveryError(
            f"delivery.yml: {where or 'the delivery'} uses {out['decimal_separator']} as both the "
            "decimal and the thousands separator"
        )
    return out


def load(folder: Path) -> Delivery:
    """The delivery.yml of a folder (absent: the defaults). Raises DeliveryError naming the setting."""
    path = folder / DELIVERY_FILE
    if not path.is_file():
        return Delivery(folder, copy.deepcopy(DEFAULTS), {}, declared=False)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise DeliveryError("delivery.yml: the file is not UTF-8 text; save it as UTF-8") from None
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DeliveryError(f"delivery.yml: not valid YAML ({exc})") from None
    if parsed is None:
        return Delivery(folder, copy.deepcopy(DEFAULTS), {}, declared=True)
    if not isinstance(parsed, dict):
        raise DeliveryError(f"delivery.yml: expected settings (key: value lines), found {parsed!r}")
    top = _merge(DEFAULTS, parsed, "")
    files = parsed.get("files") or {}
    if not isinstance(files, dict):
        raise DeliveryError(
            "delivery.yml: files must map file names to settings, e.g. files: {lab_results.csv: {date_order: dmy}}"
        )
    resolved = {str(name): block for name, block in files.items()}
    delivery = Delivery(folder, top, resolved, declared=True)
    for name in resolved:  # every block is checked now, not when its file is read
        delivery.format_for(name)
    return delivery


def utf8_copy_dir(db_path: Path) -> Path:
    """Where `ctd-rtp build` keeps UTF-8 copies of a delivery's non-UTF-8 files: beside the
    published warehouse (its staging views read them after the build)."""
    published = db_path.with_name(db_path.name.removesuffix(".building"))
    return published.with_name(published.name + ".utf8")


def write_utf8_copies(raw_dir: Path, out_dir: Path) -> list[tuple[str, str]]:
    """A UTF-8 copy, in out_dir, of every CSV whose declared encoding is not UTF-8.

    Returns (file name, encoding) per copy. A byte the declared encoding cannot read stops with
    the file, the line and the encoding named."""
    delivery = load(raw_dir)
    done: list[tuple[str, str]] = []
    for path in sorted(raw_dir.glob("*.csv")):
        if path.name == LOCAL_MAP_FILE:
            continue
        encoding = delivery.format_for(path.name)["encoding"]
        if encoding in UTF8_NAMES:
            continue
        text = decode(path, encoding)
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = out_dir / f".{path.name}.tmp"
        tmp.write_text(text, encoding="utf-8", newline="")
        tmp.replace(out_dir / path.name)
        done.append((path.name, encoding))
    return done


def decode(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DeliveryError(
            f"{path.name} line {line}: byte 0x{data[exc.start]:02x} cannot be read as {encoding} "
            "(delivery.yml encoding); check the declared encoding"
        ) from None
