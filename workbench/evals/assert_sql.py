"""`is-sql` / `contains-sql`: a real SQL parser (sqlglot), with promptfoo's extra rules.

promptfoo parses with node-sql-parser (MySQL dialect unless `databaseType` says otherwise);
sqlglot is the closest maintained Python parser with the same dialects. On top of the parser,
promptfoo fails: empty output, an odd number of backticks, `SELECT a b FROM` (a likely
missing comma, outside quotes and comments) and `generate_series(` in MySQL. `allowedTables`
/ `allowedColumns` are node-sql-parser's `{type}::{db}::{table}` / `{type}::{table}::{column}`
entries, each a case-insensitive regular expression matched against the whole name.
`contains-sql` checks the ```sql (or unlabelled) code blocks when there are any, else the whole
output, and passes when one of them is valid.
"""

from __future__ import annotations

import re
from typing import Any

from workbench.core.jsvalues import regex_search
from workbench.evals.regex_limit import bounded_search

DIALECTS = {
    "mysql": "mysql",
    "mariadb": "mysql",
    "postgresql": "postgres",
    "sqlite": "sqlite",
    "transactsql": "tsql",
    "bigquery": "bigquery",
    "hive": "hive",
    "redshift": "redshift",
    "snowflake": "snowflake",
    "athena": "athena",
    "trino": "trino",
    "db2": None,
    "flinksql": None,
    "noql": None,
}
_SELECT_MODIFIERS = "(?:all|distinct)"
_MYSQL_SELECT_MODIFIERS = "(?:all|distinct(?:row)?|high_priority|straight_join|sql_(?:big_result|buffer_result|cache|calc_found_rows|no_cache|small_result))"
_IDENT = "[A-Za-z_][A-Za-z0-9_]*"


def _missing_comma_pattern(database: str) -> str:
    modifiers = _MYSQL_SELECT_MODIFIERS if database in ("MySQL", "MariaDB") else _SELECT_MODIFIERS
    return rf"\bselect\s+(?:{modifiers}\s+)*(?!{modifiers}\b){_IDENT}\s+{_IDENT}\s+from\b"


def _quoted_end(sql: str, start: int, quote: str) -> int:
    closing = "]" if quote == "[" else quote
    cursor = start + 1
    while cursor < len(sql):
        if closing != "]" and sql[cursor] == "\\":
            cursor += 2
            continue
        if sql[cursor] == closing:
            if cursor + 1 < len(sql) and sql[cursor + 1] == closing:
                cursor += 2
                continue
            return cursor + 1
        cursor += 1
    return len(sql)


def _strip_ignored(sql: str, database: str) -> str:
    """Quoted text becomes ` ? ` and comments a space, so the heuristics see only code."""
    brackets = database in ("TransactSQL", "Sqlite")
    chunks: list[str] = []
    plain = cursor = 0
    while cursor < len(sql):
        char = sql[cursor]
        end: int | None = None
        replacement = " "
        if char in "'\"`" or (char == "[" and brackets):
            end = _quoted_end(sql, cursor, char)
            replacement = " ? "
        elif (char == "-" and sql[cursor + 1 : cursor + 2] == "-") or char == "#":
            end = cursor + 1
            while end < len(sql) and sql[end] not in "\r\n":
                end += 1
        elif char == "/" and sql[cursor + 1 : cursor + 2] == "*":
            found = sql.find("*/", cursor + 2)
            end = len(sql) if found == -1 else found + 2
        elif char == "$":
            match = re.match(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$", sql[cursor:])
            if match:
                delimiter = match.group(0)
                found = sql.find(delimiter, cursor + len(delimiter))
                end = len(sql) if found == -1 else found + len(delimiter)
                replacement = " ? "
        if end is None:
            cursor += 1
            continue
        chunks.extend((sql[plain:cursor], replacement))
        cursor = plain = end
    chunks.append(sql[plain:])
    return "".join(chunks)


def _statement_types() -> tuple[type, ...]:
    from sqlglot import exp

    names = ("Query", "Insert", "Update", "Delete", "Create", "Drop", "Alter", "Merge", "Use", "Show", "Set",
             "Transaction", "Commit", "Rollback", "Describe", "TruncateTable", "Grant", "Copy", "Analyze", "Pragma")
    return tuple(getattr(exp, n) for n in names if hasattr(exp, n))


def _parse(sql: str, database: str) -> list[Any]:
    import sqlglot
    from sqlglot import exp

    dialect = DIALECTS.get(database.lower(), "mysql")
    statements = [s for s in sqlglot.parse(sql, read=dialect, error_level=sqlglot.ErrorLevel.RAISE) if s is not None]
    if not statements:
        raise ValueError("no statement")
    allowed = _statement_types()
    for statement in statements:
        if not isinstance(statement, allowed) or isinstance(statement, exp.Command):
            raise ValueError(f"not a SQL statement: {type(statement).__name__}")
    return statements


def _kind(node: Any) -> str:
    from sqlglot import exp

    while node is not None:
        for cls, name in ((exp.Insert, "insert"), (exp.Update, "update"), (exp.Delete, "delete"), (exp.Select, "select"), (exp.Create, "create"), (exp.Drop, "drop"), (exp.Alter, "alter")):
            if isinstance(node, cls):
                return name
        node = node.parent
    return "select"


def table_list(statements: list[Any]) -> list[str]:
    from sqlglot import exp

    out: list[str] = []
    for statement in statements:
        ctes = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            if not table.name or table.name in ctes:
                continue
            entry = f"{_kind(table.parent)}::{table.db or 'null'}::{table.name}"
            if entry not in out:
                out.append(entry)
    return out


def column_list(statements: list[Any]) -> list[str]:
    from sqlglot import exp

    out: list[str] = []
    for statement in statements:
        aliases = {t.alias_or_name: t.name for t in statement.find_all(exp.Table)}
        for column in statement.find_all(exp.Column):
            table = aliases.get(column.table, column.table) if column.table else "null"
            entry = f"{_kind(column.parent)}::{table}::{column.name}"
            if entry not in out:
                out.append(entry)
        if any(isinstance(s, exp.Star) for s in statement.find_all(exp.Star)):
            entry = f"{_kind(statement)}::null::(.*)"
            if entry not in out:
                out.append(entry)
    return out


def _whitelisted(entries: list[str], allowed: list[str]) -> bool:
    """`allowedTables` / `allowedColumns` are patterns the user wrote: matched within the limit."""
    return all(any(bounded_search(f"^{item}$", entry, "i") for item in allowed) for entry in entries)


def check_sql(sql: str, value: Any) -> tuple[bool, str]:
    """`is-sql` before inversion: (valid, reason). Raises ValueError for an unusable value."""
    database = "MySQL"
    allowed_tables = allowed_columns = None
    if value and isinstance(value, dict):
        database = value.get("databaseType") or "MySQL"
        allowed_tables = value.get("allowedTables")
        allowed_columns = value.get("allowedColumns")
    elif value:
        raise ValueError("is-sql assertion must have a object value.")
    syntax = f"SQL statement does not conform to the provided {database} database syntax."
    reasons: list[str] = []
    text = sql.strip()
    if not text:
        reasons.append(syntax)
    if text.count("`") % 2:
        reasons.append(syntax)
    if regex_search(_missing_comma_pattern(database), _strip_ignored(text, database), "i"):
        reasons.append(syntax)
    if database == "MySQL" and regex_search(r"\bgenerate_series\s*\(", text, "i"):
        reasons.append(syntax)
    statements: list[Any] = []
    try:
        statements = _parse(sql, database)
    except Exception:
        reasons.append(syntax)
    if allowed_tables:
        tables = table_list(statements)
        if not statements or not _whitelisted(tables, list(allowed_tables)):
            if tables:
                reasons.append(f"SQL references unauthorized table(s). Found: [{', '.join(tables)}]. Allowed: [{', '.join(allowed_tables)}].")
            else:
                reasons.append("SQL validation failed: the statement could not be parsed.")
    if allowed_columns:
        extended = list(allowed_columns)
        for item in allowed_columns:
            parts = item.split("::")
            if len(parts) == 3 and parts[1] != "null":
                alt = f"{parts[0]}::null::{parts[2]}"
                if alt not in extended:
                    extended.append(alt)
        columns = column_list(statements)
        if not statements or not _whitelisted(columns, extended):
            if columns:
                reasons.append(f"SQL references unauthorized column(s). Found: [{', '.join(columns)}]. Allowed: [{', '.join(allowed_columns)}].")
            else:
                reasons.append("SQL validation failed: the statement could not be parsed.")
    return (not reasons), (" ".join(reasons) if reasons else "valid SQL")


def _fence(line: str) -> tuple[str, int, str] | None:
    index = 0
    while index < 3 and index < len(line) and line[index] in " \t":
        index += 1
    if index >= len(line) or line[index] not in "`~":
        return None
    char = line[index]
    start = index
    while index < len(line) and line[index] == char:
        index += 1
    if index - start < 3:
        return None
    return char, index - start, line[index:]


def sql_code_blocks(text: str) -> list[str]:
    blocks: list[str] = []
    active: dict[str, Any] | None = None
    for line in re.split(r"\r\n?|\n", text):
        fence = _fence(line)
        if active is None:
            if fence:
                language = fence[2].strip().lower()
                active = {"body": [], "char": fence[0], "len": fence[1], "sql": language in ("", "sql")}
            continue
        if fence and not fence[2].strip(" \t") and fence[0] == active["char"] and fence[1] >= active["len"]:
            if active["sql"]:
                blocks.append("\n".join(active["body"]).strip())
            active = None
        else:
            active["body"].append(line)
    return blocks


def contains_sql(text: str, value: Any) -> tuple[bool, str]:
    blocks = sql_code_blocks(text)
    reason = "Output does not contain valid SQL"
    for candidate in blocks or [text]:
        if not candidate.strip():
            continue
        ok, why = check_sql(candidate, value)
        if ok:
            return True, "valid SQL"
        reason = why
    return False, reason
