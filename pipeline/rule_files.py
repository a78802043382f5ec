"""SQL rule files: the header block, `${config.key}` placeholders, and errors by file and line.

A rule is one `.sql` file (folder `[rules].dir`): a header of `-- key: value` comment lines
(`id`, `severity`, `description`), then one SELECT over the rules' views (see
`pipeline/sql_rules.py`). The query is handed to Flink with its header lines kept as
comments and placeholders replaced on their own line, so a position Flink reports
("line X, column Y") is the same line of the file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from operators.event import SEVERITIES

HEADER_KEYS = ("id", "severity", "description")
# SQL versions of the Python detectors, each proven to alert the same transactions as its
# twin (tests/rules). Not run by default: beside their twins they would only repeat their
# alerts, at twice the cost. A subfolder of sql/rules, which `load_rules` does not descend
# into; point `[rules].dir` here, or copy a file into yours, to run one.
DETECTOR_TWINS_DIR = "sql/rules/detector-twins"
_HEADER_LINE = re.compile(r"^--\s*([a-z_]+)\s*:\s*(.*?)\s*$")
_RULE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\$\{([a-z0-9_.]+)\}")
# Flink/Calcite positions: "line 12, column 5", "At line 12, column 5", "from line 3, column 1 to…"
_POSITION = re.compile(r"line (\d+), column (\d+)")


class RuleError(ValueError):
    """A rule file that cannot be used; the message starts with `file:line:`."""

    def __init__(self, path: Path, line: int, message: str, source_line: str | None = None):
        self.path = path
        self.line = line
        text = f"{path}:{line}: {message}"
        if source_line is not None:
            text += f"\n    {line:>4} | {source_line}"
        super().__init__(text)


@dataclass(frozen=True, slots=True)
class RuleFile:
    """One parsed rule: its header and the query text Flink sees (lines = file lines)."""

    path: Path
    rule_id: str
    severity: str
    description: str
    sql: str  # the whole file, placeholders replaced, trailing `;` removed
    header_lines: int  # lines of the header block (the query starts after them)

    def line_text(self, line: int) -> str | None:
        lines = self.sql.splitlines()
        return lines[line - 1] if 1 <= line <= len(lines) else None

    def error_from_flink(self, exc: Exception) -> RuleError:
        """A Flink/Calcite error about this rule's query as a `file:line:` error."""
        message = flink_message(exc)
        match = _POSITION.search(message)
        line = int(match.group(1)) if match else self.header_lines + 1
        return RuleError(self.path, line, message, self.line_text(line))


def flink_message(exc: Exception) -> str:
    """The useful part of a PyFlink exception: the innermost Java message, one paragraph."""
    text = str(exc)
    # Py4J errors carry the Java stack trace; its first "Caused by"-free lines say it all.
    for marker in (
        "org.apache.flink.table.api.ValidationException: ",
        "org.apache.flink.table.api.SqlParserException: ",
    ):
        if marker in text:
            text = text.split(marker)[-1]
    lines = []
    for line in text.strip().splitlines():
        if line.lstrip().startswith("at ") or (line.startswith("Caused by") and lines):
            break
        lines.append(line.rstrip())
    return "\n".join(lines[:8]).strip() or type(exc).__name__


def parse_rule(path: Path, text: str, values: Mapping[str, Any]) -> RuleFile:
    """Parse one rule file; `values` are the config values placeholders may name."""
    lines = text.splitlines()
    header: dict[str, str] = {}
    header_lines = 0
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            header_lines = number
            continue
        if not stripped.startswith("--"):
            break
        header_lines = number
        match = _HEADER_LINE.match(stripped)
        if match and match.group(1) in HEADER_KEYS:
            key, value = match.groups()
            if key in header:
                raise RuleError(path, number, f"header key {key!r} given twice", line)
            header[key] = value
    for key in HEADER_KEYS:
        if not header.get(key):
            raise RuleError(path, 1, f"header lacks '-- {key}: …' (needs {', '.join(HEADER_KEYS)})")
    rule_id, severity = header["id"], header["severity"]
    if not _RULE_ID.match(rule_id):
        raise RuleError(
            path, _header_line(lines, "id"), f"id {rule_id!r} must match [a-z][a-z0-9_]*"
        )
    if severity not in SEVERITIES:
        raise RuleError(
            path,
            _header_line(lines, "severity"),
            f"severity {severity!r} must be one of {', '.join(SEVERITIES)}",
        )

    body = []
    for number, line in enumerate(lines, start=1):
        body.append(_substitute(path, number, line, values))
    sql = "\n".join(body).rstrip()
    if sql.endswith(";"):
        sql = sql[:-1].rstrip()
    if not any(line.strip() and not line.strip().startswith("--") for line in lines):
        raise RuleError(path, header_lines or 1, "no query after the header")
    return RuleFile(path, rule_id, severity, header["description"], sql, header_lines)


def _header_line(lines: list[str], key: str) -> int:
    for number, line in enumerate(lines, start=1):
        match = _HEADER_LINE.match(line.strip())
        if match and match.group(1) == key:
            return number
    return 1


def _substitute(path: Path, number: int, line: str, values: Mapping[str, Any]) -> str:
    def value(match: re.Match) -> str:
        key = match.group(1)
        if key not in values:
            raise RuleError(path, number, f"unknown config key ${{{key}}}", line)
        v = values[key]
        if isinstance(v, bool):
            return "TRUE" if v else "FALSE"
        if isinstance(v, (int, float)):
            return repr(v)
        return str(v).replace("'", "''")  # inside a quoted SQL string literal

    return _PLACEHOLDER.sub(value, line)


def load_rules(folder: Path, values: Mapping[str, Any]) -> list[RuleFile]:
    """Every `*.sql` rule of `folder`, sorted by file name; ids must be unique."""
    if not folder.is_dir():
        raise FileNotFoundError(f"rules folder {folder} does not exist ([rules].dir)")
    rules = [
        parse_rule(p, p.read_text(encoding="utf-8"), values) for p in sorted(folder.glob("*.sql"))
    ]
    seen: dict[str, Path] = {}
    for rule in rules:
        if rule.rule_id in seen:
            raise RuleError(
                rule.path, 1, f"id {rule.rule_id!r} is also used by {seen[rule.rule_id]}"
            )
        seen[rule.rule_id] = rule.path
    return rules


def rules_digest(rules: list[RuleFile]) -> str:
    """12 hex digits identifying the rule texts in force (placeholders applied)."""
    h = hashlib.sha256()
    for rule in sorted(rules, key=lambda r: r.rule_id):
        h.update(rule.rule_id.encode() + b"\0" + rule.sql.encode() + b"\0")
    return h.hexdigest()[:12]
