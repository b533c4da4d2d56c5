"""What every check shares: the piece under review, rules and findings.

A check is a small function that looks at one ``Piece`` and yields ``Hit``s:
a rule code and the values its message needs. The runner turns hits into
findings with the rule's Chinese message and hint, and the severity the
column's config sets (or the rule's default). Every check runs, so one reply
can name every problem at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from mailintake.config.settings import ColumnConfig, Config
from mailintake.reading.mime import MailPart, ParsedMail
from mailintake.reading.word import Document, Picture
from mailintake.rules.columns import SubjectMatch
from mailintake.rules.values import History, Sender

Severity = Literal["reject", "warn"]


@dataclass(frozen=True)
class Rule:
    """One thing a piece can be found guilty of, as the catalogue lists it."""

    code: str
    severity: Severity
    what: str  # what the rule checks, for the README catalogue
    message: str  # str.format template, filled from the hit's values
    hint: str


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    hint: str


@dataclass(frozen=True)
class Hit:
    code: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Piece:
    """Everything the checks may look at for one mail."""

    mail: ParsedMail
    sender: Sender
    match: SubjectMatch | None
    documents: list[Document]
    # (file name, rule code, detail) for Word files that could not be read.
    document_errors: list[tuple[str, str, str]]
    attached_pictures: list[Picture]
    other_parts: list[MailPart]
    now: datetime
    config: Config
    # Earlier pieces this one may duplicate or correct (looked up by the pipeline).
    history: History = field(default_factory=History)
    # (file name, rule code, detail) for pictures that could not be taken (a bomb).
    file_errors: list[tuple[str, str, str]] = field(default_factory=list)
    # The subject of our mail this one answers ("" for none): a quoted original in its
    # body is our own reply, not somebody else's draft passed on.
    answering: str = ""

    @property
    def column(self) -> ColumnConfig | None:
        return self.match.column if self.match else None

    @property
    def today(self) -> date:
        """The day the piece arrived, in the office's time zone."""
        return self.now.astimezone(self.config.office.tz).date()

    @property
    def document(self) -> Document | None:
        """The Word file read; a mail with several is rejected anyway."""
        return self.documents[0] if self.documents else None

    @property
    def pictures(self) -> list[Picture]:
        return [p for d in self.documents for p in d.pictures] + self.attached_pictures


CheckFn = Callable[[Piece], Iterator[Hit]]
