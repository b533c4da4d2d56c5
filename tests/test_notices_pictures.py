"""Seed 003's pictures, through the real pipeline on SQLite and PostgreSQL:
选择具有代表性的图片插入文档并对图片配文字解释 (website), 选用高清配图插入文档
(Weibo). Where each column wants its pictures is config (``pictures_in``); the
correspondent's reply and the clerk's listing say what was found, and photos
sent beside the document are filed with the piece either way."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import FIXTURES, SHANGHAI, write_config
from office_pieces import send, text_of
from pieces import LIU, ZHANG, chinese, photo, piece_mail, word_file
from sqlmodel import select

from mailintake.app import App
from mailintake.cli.views import submission_rows
from mailintake.config.settings import ConfigError, load_config
from mailintake.office.registry import import_rows, read_rows
from mailintake.store.database import session, upgrade
from mailintake.store.models import Submission

# A Thursday in the autumn term, and a Tuesday in the next spring term.
DAYS = [
    datetime(2026, 11, 19, 10, 0, tzinfo=SHANGHAI),
    datetime(2027, 3, 16, 15, 30, tzinfo=SHANGHAI),
]
NOT_IN_DOCUMENT = "请将图片插入Word文档并在图片下方配文字说明，附件中的图片不计入"



def replies(app: App) -> list[EmailMessage]:
    folder = app.config.smtp.path or Path()
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(folder.glob("*.eml"))
    ]



def filed_pictures(app: App) -> list[list[tuple[str, int, int]]]:
    """Each filed piece's pictures as (source, width, height), in filing order."""
    with session(app.engine) as db:
        pieces = db.exec(select(Submission).order_by(Submission.id)).all()  # type: ignore[arg-type]
        return [[(p["source"], p["width"], p["height"]) for p in s.pictures] for s in pieces]


def website(when: datetime, document: bytes, *photos: tuple[str, bytes]) -> bytes:
    """组织部's website piece about the day before ``when``."""
    day = (when - timedelta(days=1)).strftime("%Y.%m.%d")
    return piece_mail(LIU, f"组织部信息（{day}）多措并举推进党的建设", document, *photos)


def weibo(when: datetime, document: bytes, *photos: tuple[str, bytes]) -> bytes:
    day = (when - timedelta(days=1)).strftime("%Y.%m.%d")
    return piece_mail(ZHANG, f"人文学院微博信息（{day}）人机分离学习更专注", document, *photos)


@pytest.fixture
def columns_app(tmp_path: Path, db_url: str) -> Iterator[Callable[[str], App]]:
    """Makes an app whose config ends with the given ``[[columns]]`` text."""
    made: list[App] = []

    def make(extra: str) -> App:
        app = App.from_config(load_config(write_config(tmp_path, db_url, extra)),
                              lambda: DAYS[0])
        upgrade(app.engine)
        import_rows(app.engine, read_rows(FIXTURES / "units.csv"))
        made.append(app)
        return app

    yield make
    for app in made:
        app.engine.dispose()


@pytest.mark.parametrize("when", DAYS, ids=["autumn", "spring"])
def test_website_piece_with_its_photo_only_attached_comes_back(app: App, when: datetime) -> None:
    """The photo sent beside a Word file without pictures does not count: the
    correspondent is told to insert it and caption it; the photo is still filed."""
    document = word_file("", [chinese(260, 1)])
    send(app, when, website(when, document, ("现场.jpg", photo(1600, 1200))))
    [row] = submission_rows(app)
    assert (row["status"], row["findings"]) == ("rejected", ["pictures.not_in_document"])
    [reply] = replies(app)
    assert "【退回】" in str(reply["Subject"])
    text = text_of(reply)
    assert NOT_IN_DOCUMENT in text
    assert ("网站信息栏目要求把图片插入 Word 文档（至少 1 张），"
            "本稿文档中有 0 张、附件中有 1 张") in text
    assert "pictures." not in text  # no internal codes for the correspondent
    assert filed_pictures(app) == [[("attachment", 1600, 1200)]]


@pytest.mark.parametrize("when", DAYS, ids=["autumn", "spring"])
def test_the_same_piece_with_the_photo_inserted_and_captioned_gets_a_receipt(
    app: App, when: datetime
) -> None:
    """With the photo in the document under its caption, the piece is filed; the
    original sent beside it is kept too."""
    document = word_file("", [chinese(260, 1)], ((1600, 1200, "图为党建工作推进会现场"),))
    send(app, when, website(when, document, ("现场.jpg", photo(1600, 1200))))
    [row] = submission_rows(app)
    assert (row["status"], row["findings"], row["picture_count"]) == ("accepted", [], 2)
    [reply] = replies(app)
    assert "【回执】稿件已登记" in str(reply["Subject"])
    text = text_of(reply)
    assert "图片：2 张" in text and "配文字说明" not in text and NOT_IN_DOCUMENT not in text
    assert sorted(filed_pictures(app)[0]) == [("attachment", 1600, 1200), ("document", 1600, 1200)]


def test_website_photo_inserted_without_caption_is_filed_with_a_warning(app: App) -> None:
    """A caption missing under an inserted picture is a warning, not a rejection."""
    document = word_file("", [chinese(260, 2)], ((1600, 1200, ""),))
    send(app, DAYS[0], website(DAYS[0], document))
    [row] = submission_rows(app)
    assert (row["status"], row["findings"]) == ("accepted", ["pictures.caption_missing"])
    assert "文档中有 1 张图片没有配文字说明" in text_of(replies(app)[0])


@pytest.mark.parametrize("when", DAYS, ids=["autumn", "spring"])
def test_weibo_hd_rule_is_measured_on_the_pictures_in_the_document(
    app: App, when: datetime
) -> None:
    """400×300 in the document and 1920×1080 attached: the HD picture the post
    would use is the one in the document, so the piece comes back."""
    document = word_file("", [chinese(120, 3)], ((400, 300, "图为课堂"),))
    send(app, when, weibo(when, document, ("原图.jpg", photo(1920, 1080))))
    [row] = submission_rows(app)
    assert (row["status"], row["findings"]) == ("rejected", ["pictures.low_resolution"])
    text = text_of(replies(app)[0])
    assert ("微博信息栏目要求高清图片（至少 1280×720 像素），"
            "本稿文档中最大的图片只有 400×300 像素") in text
    assert "附件中的图片不计入" in text
    assert sorted(filed_pictures(app)[0]) == [("attachment", 1920, 1080), ("document", 400, 300)]


def test_weibo_with_the_hd_picture_inserted_and_captioned_is_filed(app: App) -> None:
    document = word_file("", [chinese(120, 4)], ((1920, 1080, "图为课堂"),))
    send(app, DAYS[0], weibo(DAYS[0], document, ("原图.jpg", photo(400, 300))))
    [row] = submission_rows(app)
    assert (row["status"], row["findings"]) == ("accepted", [])


def test_weibo_picture_without_caption_is_a_warning(app: App) -> None:
    document = word_file("", [chinese(120, 5)], ((1920, 1080, ""),))
    send(app, DAYS[0], weibo(DAYS[0], document))
    [row] = submission_rows(app)
    assert (row["status"], row["findings"]) == ("accepted", ["pictures.caption_missing"])


WEBSITE = """
[[columns]]
key = "website"
name = "网站信息"
subject = "{{单位}}信息（{{日期}}）{{标题}}"
example = "组织部信息（2019.11.17）西安工程大学多措并举扎实全面推进党的建设效果好"
min_pictures = 1
min_picture_pixels = 921600
{place}
"""


def test_column_configured_attached_wants_the_photos_beside_the_document(
    columns_app: Callable[[str], App],
) -> None:
    """An office that wants the originals: a picture only in the document comes
    back; the same piece with the photo attached is filed."""
    app = columns_app(WEBSITE.format(place='pictures_in = "attached"'))
    inside = word_file("", [chinese(260, 6)], ((1920, 1080, "图为现场"),))
    send(app, DAYS[0], website(DAYS[0], inside))
    bare = word_file("", [chinese(260, 7)])
    send(app, DAYS[1], website(DAYS[1], bare, ("现场.jpg", photo(1920, 1080))))
    assert [(r["status"], r["findings"]) for r in submission_rows(app)] == [
        ("rejected", ["pictures.not_attached"]), ("accepted", []),
    ]
    text = text_of(replies(app)[0])
    assert ("网站信息栏目要求把图片作为附件发送（至少 1 张），"
            "本稿附件中有 0 张、Word 文档中有 1 张") in text


def test_column_configured_attached_measures_hd_on_the_attached_photos(
    columns_app: Callable[[str], App],
) -> None:
    app = columns_app(WEBSITE.format(place='"图片位置" = "附件"'))
    inside = word_file("", [chinese(260, 8)], ((1920, 1080, "图为现场"),))
    send(app, DAYS[0], website(DAYS[0], inside, ("现场.jpg", photo(640, 480))))
    [row] = submission_rows(app)
    assert (row["status"], row["findings"]) == ("rejected", ["pictures.low_resolution"])
    assert "本稿附件中最大的图片只有 640×480 像素" in text_of(replies(app)[0])


@pytest.mark.parametrize("where", ["document", "attached"])
def test_column_configured_either_takes_the_photo_either_way(
    columns_app: Callable[[str], App], where: str
) -> None:
    app = columns_app(WEBSITE.format(place='pictures_in = "either"'))
    if where == "document":
        raw = website(DAYS[0], word_file("", [chinese(260, 9)], ((1920, 1080, "图为现场"),)))
    else:
        raw = website(DAYS[0], word_file("", [chinese(260, 9)]), ("现场.jpg", photo(1920, 1080)))
    send(app, DAYS[0], raw)
    [row] = submission_rows(app)
    assert (row["status"], row["findings"]) == ("accepted", [])


def test_column_without_any_picture_is_told_how_many_are_missing(
    columns_app: Callable[[str], App],
) -> None:
    """No picture anywhere: the count rule, saying where they should be."""
    app = columns_app(WEBSITE.format(place='pictures_in = "in_document"'))
    send(app, DAYS[0], website(DAYS[0], word_file("", [chinese(260, 10)])))
    [row] = submission_rows(app)
    assert (row["status"], row["findings"]) == ("rejected", ["pictures.too_few"])
    assert "网站信息栏目要求至少 1 张图片，本稿文档中只有 0 张" in text_of(replies(app)[0])


def test_defaults_follow_seed_003_and_say_either_where_the_notices_are_silent(
    app: App,
) -> None:
    places = {c.key: (c.pictures_in, c.expect_captions) for c in app.config.columns}
    assert places == {
        "weekly": ("either", False), "website": ("in_document", True),
        "weibo": ("in_document", True), "general": ("either", False),
    }


def test_an_unknown_place_is_refused_in_chinese(tmp_path: Path) -> None:
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'x.db'}",
                        WEBSITE.format(place='pictures_in = "inline"'))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "pictures_in" in message and "图片插入 Word 文档" in message and "inline" in message


def test_what_the_correspondent_reads(app: App) -> None:
    """The whole rejection of a website piece whose photo is only attached."""
    send(app, DAYS[0], website(DAYS[0], word_file("", [chinese(260, 11)]),
                               ("现场.jpg", photo(1600, 1200))))
    text = text_of(replies(app)[0])
    assert "修改方法：在 Word 中用“插入→图片”把照片放在正文相应位置" in text


@pytest.mark.parametrize(("written", "place"), [
    ('pictures_in = "attached"', "attached"),
    ('"图片位置" = "文档内"', "in_document"),
    ('"图片位置" = "均可"', "either"),
])
def test_the_place_may_be_written_in_chinese(tmp_path: Path, written: str, place: str) -> None:
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", WEBSITE.format(place=written))
    [column] = load_config(path).columns
    assert column.pictures_in == place
