"""A config the file reader or pydantic refused, said to the administrator in
Chinese: where in the file, which key, and what it should be."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError


def toml_place(exc: tomllib.TOMLDecodeError) -> str:
    found = re.search(r"at line (\d+), column (\d+)", str(exc))
    if found:
        return f"（第 {found[1]} 行第 {found[2]} 列附近）"
    return "（在文件末尾）" if "end of document" in str(exc) else ""


# What each kind of pydantic error means, in the administrator's words (pydantic
# says it in English); ``{name}`` is filled from the error's context.
_MEANINGS = {
    "missing": "缺少必填项",
    "extra_forbidden": "未知的配置项（拼写错误？）",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false",
    "string_type": "应为加引号的文字",
    "literal_error": "应为 {expected} 之一",
    "enum": "应为 {expected} 之一",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应不小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应不大于 {le}",
    "too_short": "至少要有 {min_length} 项",
    "too_long": "最多只能有 {max_length} 项",
    "string_too_short": "至少要有 {min_length} 个字符",
    "string_too_long": "最多只能有 {max_length} 个字符",
    "string_pattern_mismatch": "格式不对（应符合 {pattern}）",
    "date_parsing": "应为日期，例如 2026-09-07",
    "date_type": "应为日期，例如 2026-09-07",
    "date_from_datetime_parsing": "应为日期，例如 2026-09-07",
    "date_from_datetime_inexact": "应为日期，例如 2026-09-07",
    "datetime_parsing": "应为日期时间，例如 2026-09-07T08:00:00+08:00",
    "datetime_type": "应为日期时间，例如 2026-09-07T08:00:00+08:00",
    "list_type": "应为列表，例如 [\"a\", \"b\"]",
    "dict_type": "应为一节（[名称] 下的若干项）",
    "model_type": "应为一节（[名称] 下的若干项）",
    "model_attributes_type": "应为一节（[名称] 下的若干项）",
    "path_type": "应为路径（加引号的文字）",
}


def _meaning(error: Any) -> str:
    kind = error["type"]
    if kind in ("value_error", "assertion_error"):  # our validators speak Chinese already
        return str(error["msg"]).removeprefix("Value error, ").removeprefix(
            "Assertion failed, ")
    context = {key: _shown(value) for key, value in (error.get("ctx") or {}).items()}
    if "expected" in context:
        context["expected"] = re.sub(r",\s*| or ", "、", context["expected"])
    template = _MEANINGS.get(kind, "取值无效")
    try:
        meaning = template.format(**context)
    except (KeyError, IndexError):
        meaning = "取值无效"
    given = error.get("input")
    if kind not in ("missing", "extra_forbidden") and isinstance(
            given, str | int | float | bool | date) and len(str(given)) <= 60:
        meaning += f"（现为 {_shown(given)}）"
    return meaning


def _shown(value: object) -> str:
    """A value as it would be written in the TOML file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and not value.startswith("'"):
        return f'"{value}"'
    return str(value)


def describe(path: Path, exc: ValidationError) -> str:
    """One line: every key at fault and what it should be."""
    faults = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(顶层)"
        faults.append(f"{key}：{_meaning(error)}")
    return f"配置文件 {path} 有误：{'；'.join(faults)}。请改正后重新运行"
