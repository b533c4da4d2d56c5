"""The registration form (信息报送人员登记表): reading it, checking it, importing it.

The form is what offices already collect, as CSV or XLSX with Chinese
headers, one row per unit and correspondent. An import checks every row first
and changes nothing if any row is wrong; for each unit in the file, its
correspondents become exactly those the file lists (seed 000: a changed
correspondent must be registered in time).

An address belongs to one person. Rows that share an address are that one
person (a township school's correspondent sending for its village schools,
seed 004); two different names given the same address are refused, naming
the rows, for the office to say whose it is.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mailintake.store.database import Engine
from mailintake.store.unitchanges import Change
from mailintake.store.units import (
    ImportSummary,
    PersonEntry,
    UnitEntry,
    register,
    same_person,
)

HEADERS = {
    "单位名称": "unit",
    "简称": "aliases",
    "单位类别": "kind",
    "信息员姓名": "name",
    "职务": "title",
    "邮箱": "emails",
    "联系电话": "phone",
    # Optional: the leader in charge of the unit's information work (seed 003).
    "负责领导": "leader",
    "分管领导": "leader",
    "负责人": "leader",
}
REQUIRED = ("单位名称", "单位类别", "信息员姓名", "邮箱")

# The kinds a form may name, and the words offices use for them.
KINDS = {
    "学校": ("学校", "中学", "小学", "高中", "初中", "中心校", "职校", "九年制学校"),
    "幼儿园": ("幼儿园", "幼儿园所", "园所"),
    "部门": ("部门", "科室", "股室", "处室", "机关科室", "局属单位", "直属单位"),
    "学院": ("学院", "系", "院系", "研究院"),
    "社区": ("社区",),
}
_KIND_OF = {word: kind for kind, words in KINDS.items() for word in words}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z0-9-]{2,}$")
_SPLIT = re.compile(r"[;；,，、\s]+")


class UnitsFileError(Exception):
    """The registration file is wrong; ``problems`` lists each row and column."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Row:
    line: int
    unit: str
    aliases: list[str]
    kind: str
    name: str
    title: str
    emails: list[str]
    phone: str
    # None when the form has no 负责领导 column.
    leader: str | None = None


def read_rows(path: Path) -> list[Row]:
    """Read and check every row; raise UnitsFileError listing all problems."""
    table = _read_xlsx(path) if path.suffix.lower() in (".xlsx", ".xlsm") else _read_csv(path)
    if not table:
        raise UnitsFileError([f"{path.name}：文件为空"])
    header = [str(h or "").strip() for h in table[0]]
    missing = [h for h in REQUIRED if h not in header]
    if missing:
        raise UnitsFileError([f"{path.name}：缺少列 {'、'.join(missing)}（第 1 行表头）"])
    index: dict[str, int] = {}
    for i, h in enumerate(header):
        if h in HEADERS:
            index.setdefault(HEADERS[h], i)  # of two leader columns, the first
    rows, problems = [], []
    for number, cells in enumerate(table[1:], start=2):
        values = {key: _cell(cells, i) for key, i in index.items()}
        if not any(values.values()):
            continue
        row, row_problems = _check_row(number, values)
        problems.extend(row_problems)
        rows.append(row)
    problems.extend(shared_addresses(rows))
    if problems:
        raise UnitsFileError(problems)
    if not rows:
        raise UnitsFileError([f"{path.name}：没有数据行"])
    return rows


def import_rows(engine: Engine, rows: list[Row], *, apply: bool = True) -> ImportSummary:
    """Register checked rows in one transaction; nothing is written when two people
    share an address (UnitsFileError). ``apply=False``: only say what would change."""
    problems = shared_addresses(rows)
    if problems:
        raise UnitsFileError(problems)
    return register(engine, _units(rows), _people(rows), apply=apply)


def split_list(text: str) -> list[str]:
    """A cell's list: names or addresses separated by 、，；, spaces."""
    return [item for item in _SPLIT.split(text) if item]


def checked_emails(text: str) -> tuple[list[str], list[str]]:
    """The addresses a cell lists (lower case), and a problem for each that is none."""
    emails = [e.lower() for e in split_list(text)]
    return emails, [f"「{e}」不是有效的邮箱地址" for e in emails if not _EMAIL.match(e)]


def kind_of(word: str) -> str:
    """The unit kind a clerk's word names (学校 for 小学), "" when none."""
    return _KIND_OF.get(word.strip(), "")


def describe(change: Change) -> str:
    """One line of what an import or an edit changes, as the clerk reads it."""
    who = (f"{change.unit} 的信息员「{change.person}」" if change.person
           else f"单位「{change.unit}」")
    if change.kind == "added":
        return f"新增：{who}"
    if change.kind == "removed":
        return f"移除：{who}"
    return f"修改：{who}，{change.detail}"


def shared_addresses(rows: list[Row]) -> list[str]:
    """One problem for each address the rows give to more than one person."""
    owners: dict[str, dict[str, list[Row]]] = {}
    for row in rows:
        for address in dict.fromkeys(row.emails):
            owners.setdefault(address, {}).setdefault(same_person(row.name), []).append(row)
    problems = []
    for address, people in owners.items():
        if len(people) < 2:
            continue
        lines = sorted(row.line for same in people.values() for row in same)
        named = [f"「{same[0].name}」（第 {'、'.join(str(r.line) for r in same)} 行）"
                 for same in people.values()]
        problems.append(
            f"第 {'、'.join(map(str, lines))} 行「邮箱」列：「{address}」同时登记给了"
            f"{'、'.join(named[:-1])}和{named[-1]}；一个邮箱只能属于一位信息员，"
            "请确认邮箱属于谁，改正后重新导入"
        )
    return problems


def _units(rows: list[Row]) -> list[UnitEntry]:
    """Each unit the rows name, in the order first named: its first row's kind, and its
    first row's aliases, or all of its rows' sorted when it has several."""
    units: dict[str, UnitEntry] = {}
    for row in rows:
        known = units.get(row.unit)
        aliases = row.aliases if known is None else sorted({*known.aliases, *row.aliases})
        kind = row.kind if known is None else known.kind
        leader = row.leader if known is None or not known.leader else known.leader
        units[row.unit] = UnitEntry(name=row.unit, kind=kind, aliases=aliases, leader=leader)
    return list(units.values())


def _people(rows: list[Row]) -> list[PersonEntry]:
    """The rows grouped by person: rows that share an address are one person."""
    first: dict[str, int] = {}  # address -> the first row that gives it
    parent = list(range(len(rows)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for index, row in enumerate(rows):
        for address in row.emails:
            parent[root(index)] = root(first.setdefault(address, index))
    groups: dict[int, list[Row]] = {}
    for index, row in enumerate(rows):
        groups.setdefault(root(index), []).append(row)
    return [
        PersonEntry(
            name=same[0].name, title=same[0].title, phone=same[0].phone,
            emails=list(dict.fromkeys(address for row in same for address in row.emails)),
            units=[row.unit for row in same],
        )
        for same in groups.values()
    ]


def _cell(cells: Iterable[object], index: int) -> str:
    values = list(cells)
    value = values[index] if index < len(values) else None
    return "" if value is None else str(value).strip()


def _check_row(line: int, values: dict[str, str]) -> tuple[Row, list[str]]:
    problems = []
    for header in REQUIRED:
        if not values.get(HEADERS[header]):
            problems.append(f"第 {line} 行「{header}」列：不能为空")
    kind = _KIND_OF.get(values.get("kind", ""), "")
    if values.get("kind") and not kind:
        problems.append(
            f"第 {line} 行「单位类别」列：无法识别「{values['kind']}」，"
            f"可用：{'、'.join(KINDS)}"
        )
    emails, wrong = checked_emails(values.get("emails", ""))
    problems.extend(f"第 {line} 行「邮箱」列：{problem}" for problem in wrong)
    aliases = split_list(values.get("aliases", ""))
    row = Row(line, values.get("unit", ""), aliases, kind, values.get("name", ""),
              values.get("title", ""), emails, values.get("phone", ""), values.get("leader"))
    return row, problems


def _read_csv(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    for codec in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(codec)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise UnitsFileError([f"{path.name}：无法识别文件编码，请另存为 UTF-8 CSV"])
    return list(csv.reader(io.StringIO(text)))


def _read_xlsx(path: Path) -> list[list[str]]:
    try:
        import openpyxl  # only ``units import`` of an .xlsx needs it

        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise UnitsFileError([f"{path.name}：无法打开 Excel 文件（{exc}）"]) from exc
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        return [["" if c is None else str(c) for c in row] for row in rows]
    finally:
        book.close()
