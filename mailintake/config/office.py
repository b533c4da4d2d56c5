"""The office's half of the config: who the office is, its teaching calendar,
quotas, reminders, the digest, the 通报 and points.

Kept apart from the servers and the checks so the rules of the notices read
in one place.
Defaults are the notices' own: seed 000 (a school one piece a week, a
department one a month), seed 001 (every two weeks; points for meeting the
quota) and seed 003 (points per adoption channel).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from mailintake.config.base import Section

PeriodKind = Literal["week", "two_weeks", "month", "quarter", "half_year", "year", "school_year"]


class QuotaRule(Section):
    """At least ``count`` accepted pieces per ``period``."""

    count: int = Field(default=1, ge=0)
    period: PeriodKind = "week"


def default_kinds() -> dict[str, QuotaRule]:
    return {
        # Seed 000: every school (and kindergarten, "schools (parks)") weekly.
        "学校": QuotaRule(count=1, period="week"),
        "幼儿园": QuotaRule(count=1, period="week"),
        # Seed 000: each bureau department at least one a month.
        "部门": QuotaRule(count=1, period="month"),
        # Seed 003: every college sends its weekly digest (每周动态).
        "学院": QuotaRule(count=1, period="week"),
        # Seed 001: every community at least one a week.
        "社区": QuotaRule(count=1, period="week"),
    }


class QuotasConfig(Section):
    # The month a school year (学年) starts in, for period = "school_year".
    school_year_starts: int = Field(default=9, ge=1, le=12)
    # Per unit kind (单位类别); kinds not written keep their default.
    kinds: dict[str, QuotaRule] = Field(default_factory=default_kinds)

    @field_validator("kinds")
    @classmethod
    def _merge_defaults(cls, value: dict[str, QuotaRule]) -> dict[str, QuotaRule]:
        return {**default_kinds(), **value}


class RemindersConfig(Section):
    """When units behind their quota are reminded (催报)."""

    enabled: bool = True
    # 1 = Monday … 7 = Sunday. Within the last seven days of each quota period.
    weekday: int = Field(default=4, ge=1, le=7)
    hour: int = Field(default=9, ge=0, le=23)


class SolicitationsConfig(Section):
    """Requests for pieces (约稿): when the units that have not answered are reminded."""

    # Days before a request's deadline its reminder goes out (once); 0: none.
    remind_days_before: int = Field(default=2, ge=0, le=60)


class DigestConfig(Section):
    """The weekly digest (周报) to [office] addresses, about the week before."""

    enabled: bool = True
    weekday: int = Field(default=1, ge=1, le=7)
    hour: int = Field(default=8, ge=0, le=23)
    # Rows of the month's ranking shown in the mail (the attachment has all).
    top: int = Field(default=20, ge=1)
    # A font file for the chart; default: the first CJK font installed.
    font: str = ""


class BulletinConfig(Section):
    """The 通报 of a month, quarter, half-year or year, sent to every active unit's
    correspondents (``mailintake bulletin``; the console's 通报 page)."""

    # Addresses that get every 通报 besides the units' correspondents (the bureau's
    # leaders, the office's own archive).
    extra: list[str] = Field(default_factory=list)
    # How many outstanding correspondents (优秀信息员, by points) the 通报 names.
    top_correspondents: int = Field(default=10, ge=0, le=100)

    @field_validator("extra")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            local, at, domain = address.strip().rpartition("@")
            spaced = any(c.isspace() for c in address.strip())
            if not at or not local or "." not in domain or spaced:
                raise ValueError(f"{address!r} 不是邮箱地址，例如 \"leader@example.edu.cn\"")
        return [address.strip() for address in value]


class ChannelConfig(Section):
    """Where an adopted piece was published (采用渠道) and what it earns."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    points: float
    # Points when only a brief (简讯) was used; default: the same as a full piece.
    brief_points: float | None = None

    def earned(self, brief: bool) -> float:
        if brief and self.brief_points is not None:
            return self.brief_points
        return self.points


def default_channels() -> list[ChannelConfig]:
    # Seed 003's table.
    return [
        ChannelConfig(key="weekly", name="学校每周动态", points=1),
        ChannelConfig(key="college", name="教育厅网站高等学校栏目", points=15),
        ChannelConfig(key="video", name="教育厅视频新闻", points=15),
        ChannelConfig(key="hot", name="教育厅热点聚焦", points=20),
        ChannelConfig(key="weibo", name="教育厅微博", points=10),
        ChannelConfig(key="news", name="教育厅教育要闻", points=20),
        ChannelConfig(key="headline", name="教育厅头条", points=30),
    ]


class PointsConfig(Section):
    """How points (积分) are earned; each point is kept with its reason."""

    # Each piece (seed 003: 投稿每条计 1 分).
    per_submission: float = 1
    # Which pieces earn it: "sent" (every piece sent, rejected ones too; a corrected
    # piece once) or "accepted" (only pieces accepted).
    submission_counts: Literal["sent", "accepted"] = "sent"
    # Seed 001's monthly scheme: base points for meeting the quota, and per
    # piece missing or extra, reckoned once per scoring period.
    scoring_period: PeriodKind = "month"
    base: float = 0
    per_missing: float = 0
    per_extra: float = 0
    # Whether the base needs the quota met (seed 001: 完成基本任务将获基础分).
    base_only_when_met: bool = True
    channels: list[ChannelConfig] = Field(default_factory=default_channels)

    @model_validator(mode="after")
    def _unique(self) -> PointsConfig:
        keys = [c.key for c in self.channels]
        names = [c.name for c in self.channels]
        if len(set(keys)) != len(keys) or len(set(names)) != len(names):
            raise ValueError("采用渠道的 key 或 name 重复")
        return self

    @property
    def quota_points(self) -> bool:
        return bool(self.base or self.per_missing or self.per_extra)

    def channel(self, word: str) -> ChannelConfig | None:
        """The channel a clerk named, by key or Chinese name."""
        for channel in self.channels:
            if word in (channel.key, channel.name):
                return channel
        return None


class BriefingConfig(Section):
    """The office's own 简报 (教育简报, seed 000; 《工作简报》, seed 001), made as a Word file."""

    # The masthead: the briefing's name in big red characters.
    title: str = Field(default="教育简报", min_length=1, max_length=40)
    # The office's own .docx with its letterhead, headers and footers; the placeholders
    # {简报名} {期号} {年} {日期} {单位} {标题} are filled and the pieces go where {正文}
    # stands (README). Empty: the template shipped in the package.
    template: Path | None = None
    # The adoption channel (key or name, of [[points.channels]]) each piece is recorded
    # in when an issue is made; no such channel configured, no adoption is recorded.
    channel: str = "briefing"
    # The widest a photo is laid out, in centimetres (narrower when the page is).
    photo_width_cm: float = Field(default=14, gt=2, le=30)

    @field_validator("template")
    @classmethod
    def _docx(cls, value: Path | None) -> Path | None:
        if value is not None and value.suffix.lower() != ".docx":
            raise ValueError("简报模板应为 Word .docx 文件（.doc、.dotx 请在 Word 中另存为 .docx）")
        return value


class OfficeConfig(Section):
    name: str = "教育信息报送"
    timezone: str = "Asia/Shanghai"
    # Where the weekly digest goes.
    addresses: list[str] = Field(default_factory=list)
    # Whom a correspondent calls: named in every reply beside 请勿直接回复.
    contact: str = ""
    phone: str = ""

    @property
    def contact_line(self) -> str:
        """Whom to call, as a reply says it after 请联系: 王老师（电话 0571-…）."""
        if self.contact and self.phone:
            return f"{self.contact}（电话 {self.phone}）"
        return self.contact or (f"电话 {self.phone}" if self.phone else "")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"未知时区 {value!r}，例如 \"Asia/Shanghai\"") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class SemesterConfig(Section):
    name: str
    week1_monday: date
    weeks: int = Field(default=20, ge=1, le=30)

    @field_validator("week1_monday")
    @classmethod
    def _monday(cls, value: date) -> date:
        if value.weekday() != 0:
            raise ValueError(f"{value} 不是星期一")
        return value


class BreakConfig(Section):
    """The office's own days off (sports week, exams …), beyond official holidays."""

    name: str
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> BreakConfig:
        if self.end < self.start:
            raise ValueError(f"end {self.end} 早于 start {self.start}")
        return self


class HolidayConfig(BreakConfig):
    """An official holiday (法定节假日) for a year the ``chinese_calendar`` package
    does not know yet, as the State Council's notice lists it."""


class CalendarConfig(Section):
    semesters: list[SemesterConfig] = Field(default_factory=list)
    breaks: list[BreakConfig] = Field(default_factory=list)
    # Official holidays and swapped working days (调休上班的周末) for the years the
    # chinese_calendar package does not know; both override the package.
    holidays: list[HolidayConfig] = Field(default_factory=list)
    workdays: list[date] = Field(default_factory=list)
    # A week whose working days are at least this share holidays carries no quota.
    holiday_week_share: float = Field(default=0.5, gt=0, le=1)
