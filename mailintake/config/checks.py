"""What a mail is checked against: the limits of one mail, the kinds of piece
(栏目) with their subject formats, when two pieces are the same, and whose
authentication results to believe.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, field_validator

from mailintake.config.base import Section
from mailintake.config.deadlines import Deadline, parse_deadline


class AuthConfig(Section):
    """Whose ``Authentication-Results`` headers to believe (SPF, DKIM, DMARC)."""

    # The authserv-id is the first word of the header the office's provider adds.
    trusted_authserv_ids: list[str] = Field(default_factory=list)


class LimitsConfig(Section):
    max_message_bytes: int = Field(default=40 * 1024 * 1024, ge=1024)
    max_attachment_bytes: int = Field(default=30 * 1024 * 1024, ge=1024)
    max_attachments: int = Field(default=60, ge=1)


Severity = Literal["reject", "warn"]

# Where a column's pictures must be: inserted in the Word file, sent as
# attachments beside it, or either way. Chinese spellings are accepted too.
PicturePlace = Literal["in_document", "attached", "either"]
_PICTURE_PLACES: dict[str, PicturePlace] = {
    "in_document": "in_document", "文档内": "in_document", "插入文档": "in_document",
    "attached": "attached", "附件": "attached",
    "either": "either", "均可": "either",
}


class ColumnConfig(Section):
    """A kind of piece (栏目) with its subject format and its limits."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    subject: str
    example: str = ""
    require_document: bool = True
    min_words: int = Field(default=0, ge=0)
    max_words: int = Field(default=0, ge=0)
    max_chars: int = Field(default=0, ge=0)
    min_pictures: int = Field(default=0, ge=0)
    min_picture_pixels: int = Field(default=0, ge=0)
    # Longest title (characters) the subject may carry; 0 = no limit.
    max_title_chars: int = Field(default=0, ge=0)
    # Pictures in the Word file should each have a caption (seed 003).
    expect_captions: bool = False
    # The piece should list items one by one, each with its time (weekly digests).
    itemized: bool = False
    # Days after the event a dated piece is due when the column has no deadline
    # (seed 000: 3, as "活动结束后 3 天"); 0 = no check.
    max_days_late: int = Field(default=3, ge=0)
    # The deadline as the notice writes it (config.deadlines): "每周五 24:00",
    # "活动结束后 3 天"; "" for none. ``截止`` is accepted as the key too.
    deadline: str = Field(default="", validation_alias=AliasChoices("deadline", "截止"))
    # Where the pictures must be (seed 003: 插入文档 for website and Weibo); the
    # picture rules count and measure only the pictures there. ``图片位置`` too.
    pictures_in: PicturePlace = Field(
        default="either", validation_alias=AliasChoices("pictures_in", "图片位置"))
    severity: dict[str, Severity] = Field(default_factory=dict)

    @field_validator("pictures_in", mode="before")
    @classmethod
    def _pictures_in(cls, value: object) -> object:
        place = _PICTURE_PLACES.get(value.strip()) if isinstance(value, str) else None
        if place is None:
            raise ValueError(
                f"应为 \"in_document\"（图片插入 Word 文档）、\"attached\"（图片作为附件）"
                f"或 \"either\"（两者均可）之一（现为 {value!r}）")
        return place

    @field_validator("deadline")
    @classmethod
    def _deadline(cls, value: str) -> str:
        parse_deadline(value)  # a DeadlineError (a ValueError) names the accepted forms
        return value

    @property
    def due(self) -> Deadline:
        return parse_deadline(self.deadline)

    @property
    def weekly(self) -> bool:
        """A piece per teaching week (its subject names the week): it counts for that
        week, and says so."""
        return "{周次}" in self.subject


def default_columns() -> list[ColumnConfig]:
    # The four columns of the notices (seed 003 and seed 000).
    return [
        ColumnConfig(
            key="weekly", name="每周动态", subject="{单位}第{周次}周工作动态信息",
            example="党政办公室第十二周工作动态信息", itemized=True,
            # Seed 003: 学校每周动态，于每周周五前上报.
            deadline="每周五 24:00",
        ),
        ColumnConfig(
            key="website", name="网站信息", subject="{单位}信息（{日期}）{标题}",
            example="组织部信息（2019.11.17）西安工程大学多措并举扎实全面推进党的建设效果好",
            min_pictures=1, max_title_chars=40, expect_captions=True,
            # Seed 003: 选择具有代表性的图片插入文档并对图片配文字解释.
            pictures_in="in_document",
        ),
        ColumnConfig(
            key="weibo", name="微博信息", subject="{单位}微博信息（{日期}）{标题}",
            example="人文学院微博信息（2019.11.17）人机分离，学习更专注",
            max_chars=140, min_pictures=1, min_picture_pixels=1280 * 720, max_title_chars=30,
            # Seed 003: 选用高清配图插入文档; captioned as the website's pictures are.
            pictures_in="in_document", expect_captions=True,
        ),
        ColumnConfig(
            key="general", name="教育信息", subject="{单位}（{作者}）{标题}",
            example="实验小学（李娜）开展秋季趣味运动会", min_words=150, max_words=300,
            max_title_chars=40,
            # Seed 000: activities "must be accompanied by pictures"; not every
            # piece is an activity, so a missing picture is only a warning here.
            min_pictures=1, severity={"pictures.too_few": "warn"},
        ),
    ]


class DuplicatesConfig(Section):
    """When a piece counts as one already filed (by any unit)."""

    # Share of 4-character shingles two texts have in common (Jaccard) from
    # which they are "nearly the same"; below 0.6 the stored LSH bands miss pairs.
    threshold: float = Field(default=0.8, ge=0.6, le=1)
    # Compare with pieces filed in this many days before; 0 = all time.
    window_days: int = Field(default=365, ge=0)
    # Texts shorter than this (letters and digits, punctuation not counted) are not compared.
    min_chars: int = Field(default=30, ge=1)


class DeadlinesConfig(Section):
    """What a piece that misses its column's deadline counts for."""

    # True: a late piece counts for the week or date its subject names, with a
    # warning (seed 003's clerk would); False: it counts when it arrived.
    late_counts: bool = True


class ChecksConfig(Section):
    """Office-wide severities by finding code, e.g. {"forwarded.draft" = "reject"};
    a column's own ``severity`` wins over these."""

    severity: dict[str, Severity] = Field(default_factory=dict)


class CorrectionsConfig(Section):
    """A piece re-sent with the same subject replaces the earlier version."""

    # Days after the earlier version in which a re-sent piece replaces it; 0 = never.
    window_days: int = Field(default=7, ge=0)
