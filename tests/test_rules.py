"""Each check of the notices on its own: a piece as a correspondent sends it,
read as the pipeline reads it, and the findings a careful clerk would give."""

from __future__ import annotations

import re
from datetime import date, datetime, time

import pytest
from conftest import ROOT, SHANGHAI
from pieces import CHEN, LI, WANG, ZHANG, chinese, mail, news, photo, piece_mail, weekly, word_file

from mailintake.config.settings import ColumnConfig, Config, LimitsConfig
from mailintake.reading.fingerprint import Fingerprint
from mailintake.reading.mail import read_mail
from mailintake.rules import CATALOGUE, Piece, run_checks
from mailintake.rules.columns import SubjectMatcher
from mailintake.rules.values import Earlier, History, Sender, UnitRef

CONFIG = Config.model_validate({
    "mailbox": {"kind": "maildir", "path": "/nonexistent/Maildir"},
    "smtp": {"kind": "folder", "path": "/nonexistent/outbox", "from": "x <xxbs@126.com>"},
    "calendar": {"semesters": [{"name": "2026秋", "week1_monday": date(2026, 9, 7)}]},
})
UNITS = {
    name: UnitRef(id=number, name=name, aliases=tuple(aliases))
    for number, (name, aliases) in enumerate(
        [("党政办公室", ["党政办"]), ("组织部", []), ("人文学院", ["人文"]),
         ("实验小学", ["实小"]), ("城关镇东街小学", ["东街小学"])],
        start=1,
    )
}
OWN = {CHEN: "党政办公室", ZHANG: "人文学院", LI: "实验小学", WANG: "城关镇东街小学"}
# Thursday of teaching week 11.
NOW = datetime(2026, 11, 19, 10, 0, tzinfo=SHANGHAI)


def at(day: date) -> datetime:
    return datetime.combine(day, time(10), tzinfo=SHANGHAI)


def piece(raw: bytes, now: datetime = NOW, config: Config = CONFIG,
          history: History | None = None) -> Piece:
    """The piece the pipeline would build from ``raw``."""
    reading = read_mail(raw, config.limits)
    names = {n: u for u in UNITS.values() for n in (u.name, *u.aliases)}
    sender = Sender(1, "信息员", (UNITS[OWN[reading.mail.from_addr]],))
    return Piece(
        mail=reading.mail, sender=sender,
        match=SubjectMatcher(config.columns, names).match(
            reading.mail.subject, now.astimezone(SHANGHAI).date()),
        documents=reading.documents, document_errors=reading.document_errors,
        attached_pictures=reading.pictures, other_parts=[], now=now, config=config,
        history=history or History(),
    )


def codes(p: Piece) -> list[str]:
    return [f.code for f in run_checks(p)]


WEEKLY = "党政办公室第十二周工作动态信息"


@pytest.mark.parametrize(
    ("subject", "day", "expected"),
    [
        (WEEKLY, date(2026, 11, 26), []),  # week 12
        # Week 13: last week's digest, after week 12's Friday deadline.
        (WEEKLY, date(2026, 12, 2), ["subject.week_late"]),
        (WEEKLY, date(2026, 12, 9), ["subject.week_wrong"]),  # week 14
        (WEEKLY, date(2026, 11, 19), ["subject.week_wrong"]),  # week 11: not yet week 12
        ("党政办第12周工作动态信息", date(2026, 11, 24), []),
        # Holidays, week 20 just ended (after its Friday deadline).
        ("党政办公室第二十周工作动态信息", date(2027, 1, 27), ["subject.week_late"]),
        (WEEKLY, date(2027, 2, 10), ["subject.week_no_term"]),
    ],
)
def test_weekly_digest_names_this_or_last_teaching_week(
    subject: str, day: date, expected: list[str]
) -> None:
    """A weekly digest must name the current or the previous teaching week."""
    assert codes(piece(piece_mail(CHEN, subject, weekly(1)), now=at(day))) == expected


def test_wrong_week_says_which_week_it_is_and_the_right_subject() -> None:
    """The rejection names this week and the subject to write instead."""
    [finding] = run_checks(piece(piece_mail(CHEN, WEEKLY, weekly(1)), now=at(date(2026, 12, 9))))
    assert "收稿时是第十四周" in finding.message
    assert "党政办公室第十四周工作动态信息" in finding.hint


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026.11.19", []),
        ("2026.11.16", []),  # 3 days after the event: in time (seed 000)
        ("2026年11月15日", ["subject.date_late"]),
        ("2026-11-20", ["subject.date_future"]),
        ("2026.02.30", ["subject.date_invalid"]),
        ("11月18日", []),  # no year: this year's
        ("26.11.18", []),
        ("20261118", []),
    ],
)
def test_website_date_is_real_not_future_and_recent(when: str, expected: list[str]) -> None:
    """The date in the subject is a real day, not after arrival, and at most 3 days before."""
    subject = f"党政办公室信息（{when}）学校召开安全工作会议"
    assert codes(piece(piece_mail(CHEN, subject, news(280, 2)))) == expected


def test_late_piece_is_only_a_warning() -> None:
    """Sending later than 3 days after the event is a warning, not a rejection."""
    subject = "党政办公室信息（2026.11.10）学校召开安全工作会议"
    [finding] = run_checks(piece(piece_mail(CHEN, subject, news(280, 2))))
    assert (finding.code, finding.severity) == ("subject.date_late", "warn")
    assert "截止时间为11月13日（周五）24:00，收稿时已晚 5 天 10 小时" in finding.message


@pytest.mark.parametrize(("length", "expected"), [(40, []), (41, ["subject.title_too_long"])])
def test_website_title_has_a_length_limit(length: int, expected: list[str]) -> None:
    """A website piece's title may have at most 40 characters."""
    subject = f"党政办公室信息（2026.11.18）{chinese(length, 3)}"
    assert codes(piece(piece_mail(CHEN, subject, news(280, 2)))) == expected


@pytest.mark.parametrize(
    ("post", "expected"),
    [
        (chinese(140, 4), []),
        (chinese(141, 4), ["length.weibo_too_long"]),
        (chinese(130, 4) + "a" * 20, []),  # 20 half-width letters count 10
        (chinese(130, 4) + "a" * 21, ["length.weibo_too_long"]),
    ],
)
def test_weibo_post_counts_as_weibo_counts(post: str, expected: list[str]) -> None:
    """At most 140 characters, two half-width ones counting one; title and caption not counted."""
    subject = "人文学院微博信息（2026.11.18）人机分离，学习更专注"
    document = word_file("人机分离，学习更专注", [post], ((1920, 1080, "图为同学们放入手机"),))
    assert codes(piece(piece_mail(ZHANG, subject, document))) == expected


def test_weibo_rejection_gives_the_count_and_the_rule() -> None:
    """The rejection says how many characters Weibo counts and how it counts them."""
    subject = "人文学院微博信息（2026.11.18）人机分离，学习更专注"
    document = word_file("", [chinese(141, 4)], ((1920, 1080, "图为课堂"),))
    [finding] = run_checks(piece(piece_mail(ZHANG, subject, document)))
    assert "共 141 字，超过 140 字" in finding.message
    assert "每 2 个算 1 字" in finding.hint


@pytest.mark.parametrize(
    ("length", "expected"),
    [(100, ["length.too_short"]), (200, []), (360, ["length.too_long"])],
)
def test_general_piece_is_usually_150_to_300_words(length: int, expected: list[str]) -> None:
    """Seed 000: generally 150–300 字; shorter or longer is a warning only."""
    found = run_checks(piece(piece_mail(LI, "实验小学（李娜）开展秋季趣味运动会", news(length, 5))))
    assert [f.code for f in found] == expected
    assert all(f.severity == "warn" for f in found)


@pytest.mark.parametrize(
    ("pictures", "attached", "expected"),
    [
        ((), (), ["pictures.too_few"]),
        (((800, 600, "图为现场"),), (), ["pictures.low_resolution"]),
        (((1920, 1080, "图为现场"),), (), []),
        # Seed 003: 选用高清配图插入文档; the original attached beside does not count.
        (((800, 600, "图为现场"),), ((1920, 1080),), ["pictures.low_resolution"]),
        ((), ((1920, 1080),), ["pictures.not_in_document"]),
    ],
)
def test_weibo_needs_one_high_definition_picture(
    pictures: tuple[tuple[int, int, str], ...], attached: tuple[tuple[int, int], ...],
    expected: list[str],
) -> None:
    """Seed 003: Weibo pieces come with a high-definition picture (at least 1280×720)."""
    subject = "人文学院微博信息（2026.11.18）人机分离，学习更专注"
    files = [("原图.jpg", photo(w, h)) for w, h in attached]
    raw = piece_mail(ZHANG, subject, word_file("", [chinese(100, 6)], pictures), *files)
    assert codes(piece(raw)) == expected


def test_low_resolution_names_the_sizes() -> None:
    """The finding names the largest picture sent and the size needed."""
    subject = "人文学院微博信息（2026.11.18）人机分离"
    raw = piece_mail(ZHANG, subject, word_file("", [chinese(100, 6)], ((800, 600, "图"),)))
    [finding] = run_checks(piece(raw))
    assert "800×600" in finding.message and "1280×720" in finding.message


def test_website_pictures_without_caption_are_a_warning() -> None:
    """Seed 003: each picture in a website piece has a caption; a bare one is a warning."""
    document = word_file("", [chinese(280, 7)], ((1600, 1200, "图为会场"), (1600, 1200, "")))
    found = run_checks(piece(piece_mail(CHEN, "党政办公室信息（2026.11.18）召开会议", document)))
    assert [(f.code, f.severity) for f in found] == [("pictures.caption_missing", "warn")]
    assert "1 张图片没有配文字说明（共 2 张）" in found[0].message


def test_weekly_items_are_listed_one_by_one_with_times() -> None:
    """Seed 003: the weekly digest lists items one by one, each with its time."""
    flat = word_file("", [chinese(300, 8)], ((800, 600, "图为会议"),))
    assert codes(piece(piece_mail(CHEN, "党政办公室第十一周工作动态信息", flat))) == [
        "content.not_itemized"
    ]
    untimed = word_file("", ["1. 时间：11月16日；召开会议。", "2. 地点：会议室；开展培训。"])
    assert codes(piece(piece_mail(CHEN, "党政办公室第十一周工作动态信息", untimed))) == [
        "content.item_no_time"
    ]


def test_oversized_attachment_is_named() -> None:
    """An attachment over the per-file limit is named, with the limit, and not read."""
    small = CONFIG.model_copy(update={"limits": LimitsConfig(max_attachment_bytes=100_000)})
    raw = piece_mail(CHEN, "党政办公室信息（2026.11.18）召开会议", news(280, 2),
                     ("大照片.jpg", photo(1600, 1200, 9) + b"\0" * 100_000))
    found = run_checks(piece(raw, config=small))
    assert [f.code for f in found] == ["limits.attachment_size"]
    assert "大照片.jpg" in found[0].message


def test_a_column_can_make_a_warning_a_rejection() -> None:
    """A column's severity table overrides a check's default severity."""
    strict = [
        c.model_copy(update={"severity": {"length.too_short": "reject"}})
        if c.key == "general" else c
        for c in CONFIG.columns
    ]
    config = CONFIG.model_copy(update={"columns": strict})
    raw = piece_mail(LI, "实验小学（李娜）开展活动", news(100, 5))
    [finding] = run_checks(piece(raw, config=config))
    assert (finding.code, finding.severity) == ("length.too_short", "reject")


def test_every_problem_is_found_at_once() -> None:
    """A piece with several problems gets every finding in one go, subject first."""
    raw = mail(CHEN, f"党政办公室信息（2026.12.01）{chinese(45, 3)}")
    assert codes(piece(raw)) == [
        "subject.title_too_long", "subject.date_future", "document.missing", "pictures.too_few",
    ]


def _earlier(text: str, tracking_no: str = "20261118-00001") -> Earlier:
    fingerprint = Fingerprint.of(text, CONFIG.duplicates.min_chars)
    assert fingerprint is not None
    return Earlier(id=1, tracking_no=tracking_no, unit_id=4, unit="实验小学", title="开展活动",
                   received_at=NOW, version=1, subject_key="", text_hash=fingerprint.hash,
                   text=text)


@pytest.mark.parametrize(
    ("earlier", "expected"),
    [
        ("same", ["duplicate.document"]),
        ("reworded", ["duplicate.similar"]),
        ("other", []),
    ],
)
def test_copies_of_a_filed_piece_are_duplicates(earlier: str, expected: list[str]) -> None:
    """The same text, or nearly the same, as a piece already filed is a duplicate."""
    text = chinese(250, 10)
    earlier_text = {
        "same": f"  {text[:100]}，\n{text[100:]}。",  # same words, other spacing and punctuation
        "reworded": text[:120] + "东街" + text[122:],
        "other": chinese(250, 11),
    }[earlier]
    fingerprint = Fingerprint.of(text, CONFIG.duplicates.min_chars)
    history = History(fingerprint=fingerprint, candidates=[_earlier(earlier_text)])
    found = run_checks(piece(piece_mail(WANG, "东街小学（王喆）开展活动", word_file("", [text])),
                             history=history))
    assert [f.code for f in found if f.code.startswith("duplicate")] == expected
    assert all("20261118-00001" in f.message for f in found if f.code.startswith("duplicate"))


def test_readme_catalogue_lists_every_check() -> None:
    """The README's check catalogue has one row per check, with its default severity."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Check catalogue", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_.]+)` \| (.+?) \| (reject|warn) \|", section, re.MULTILINE)
    listed = {code: severity for code, _what, severity in rows}
    assert listed == {code: rule.severity for code, rule in CATALOGUE.items()}


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_rule_speaks_chinese_and_says_how_to_fix(code: str) -> None:
    """Each rule has a Chinese message and a hint; its code names its area."""
    rule = CATALOGUE[code]
    assert re.search(r"[\u4e00-\u9fff]", rule.message) and re.search(r"[\u4e00-\u9fff]", rule.hint)
    assert re.fullmatch(r"[a-z]+\.[a-z_]+", code)


def test_column_defaults_follow_the_notices() -> None:
    """The four default columns carry the notices' limits."""
    columns = {c.key: c for c in CONFIG.columns}
    assert isinstance(columns["weibo"], ColumnConfig)
    assert (columns["weibo"].max_chars, columns["weibo"].min_picture_pixels) == (140, 1280 * 720)
    assert (columns["general"].min_words, columns["general"].max_words) == (150, 300)
    assert columns["website"].expect_captions and columns["weekly"].itemized
