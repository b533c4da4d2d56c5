"""The office's own 简报, as a clerk makes it: pieces with photos filed through the real
pipeline, some adopted, an issue made from the command line and from the console, and
the Word file opened to find each piece's title, text and photos in order under 第 N 期.
"""

from __future__ import annotations

import io
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import docx
import pytest
from click.testing import CliRunner, Result
from conftest import FIXTURES, NOW, write_config
from console_data import add_user, csrf_of, logged_in
from office_pieces import send
from pieces import CHEN, LI, LIU, ZHANG, chinese, mail, photo, piece_mail, word_file
from PIL import Image
from sqlmodel import col, select

from mailintake.app import App
from mailintake.cli.main import main
from mailintake.config.settings import load_config
from mailintake.office.briefingword import Laid, Photo, build_document, open_template
from mailintake.office.registry import import_rows, read_rows
from mailintake.store import briefings
from mailintake.store.database import session, upgrade
from mailintake.store.models import Adoption, Audit, Briefing, BriefingPiece, Submission

CHANNELS = """
[[points.channels]]
key = "news"
name = "教育厅教育要闻"
points = 20

[[points.channels]]
key = "weibo"
name = "教育厅微博"
points = 10

[[points.channels]]
key = "briefing"
name = "本局简报"
points = 5
"""
DAY = (NOW - timedelta(days=1)).strftime("%Y.%m.%d")
#: (sender, subject, Word file, photos sent beside it) of each piece filed.
SPORTS = "秋季运动会精彩纷呈"
PARTY = "多措并举推进党的建设"
WEIBO = "人机分离学习更专注"
READING = "书香校园读书月启动"
LABOUR = "劳动教育实践周成果展示"


def general(title: str, seed: int, pictures: tuple[tuple[int, int, str], ...] = ()) -> bytes:
    return word_file(title, [chinese(110, seed), chinese(90, seed + 1)], pictures)


def webp(width: int, height: int) -> bytes:
    """A phone's WEBP photo: Word takes no WEBP, so the 简报 converts it."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 60)).save(buffer, "WEBP")
    return buffer.getvalue()


def mails() -> list[bytes]:
    return [
        piece_mail(LI, f"实验小学（李娜）{SPORTS}", general(SPORTS, 1, (
            (1600, 1200, "图为运动会开幕式"), (1200, 1600, "图为接力赛")))),
        piece_mail(LIU, f"组织部信息（{DAY}）{PARTY}",
                   word_file("", [chinese(260, 3)], ((1600, 1200, "图为党建工作推进会现场"),)),
                   ("现场.jpg", photo(1600, 1200, 9))),
        piece_mail(ZHANG, f"人文学院微博信息（{DAY}）{WEIBO}",
                   word_file("", [chinese(120, 4)], ((1920, 1080, "图为课堂"),))),
        mail(CHEN, f"党政办公室（陈佩）{READING}",
             (f"{READING}.docx", general(READING, 5)), ("读书月.webp", webp(1600, 900))),
        piece_mail(LI, f"实验小学（李娜）{LABOUR}",
                   general(LABOUR, 7, ((1600, 1200, "图为劳动成果展"),))),
    ]


@pytest.fixture
def office(tmp_path: Path, db_url: str) -> Iterator[tuple[App, Path]]:
    """The five pieces filed through the pipeline; the app and its config file."""
    path = write_config(tmp_path, db_url, CHANNELS)
    app = App.from_config(load_config(path), lambda: NOW)
    upgrade(app.engine)
    import_rows(app.engine, read_rows(FIXTURES / "units.csv"))
    send(app, NOW, *mails())
    yield app, path
    app.engine.dispose()


#: The database does not matter to a test: SQLite only.
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def cli(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), "--now", NOW.isoformat(), *args])


def numbers(app: App) -> dict[str, str]:
    """Tracking number of each accepted piece, by title."""
    with session(app.engine) as db:
        rows = db.exec(select(Submission).where(Submission.status == "accepted")).all()
        return {row.title: row.tracking_no or "" for row in rows}


def layout(data: bytes) -> list[tuple[str, int]]:
    """The Word file's body as (text, pictures) per paragraph."""
    document = docx.Document(io.BytesIO(data))
    return [(p.text, len(p._p.xpath(".//pic:pic"))) for p in document.paragraphs]


def blocks(rows: list[tuple[str, int]], titles: list[str]) -> list[list[tuple[str, int]]]:
    """The paragraphs under each title, up to the next one (or the end)."""
    starts = [next(i for i, (text, _) in enumerate(rows) if text == title) for title in titles]
    assert starts == sorted(starts), f"pieces out of order: {titles}"
    return [rows[a + 1:b] for a, b in zip(starts, [*starts[1:], len(rows)], strict=True)]


def stored(app: App, number: int) -> bytes:
    with session(app.engine) as db:
        issue = db.exec(select(Briefing).where(Briefing.number == number)).one()
    return (app.storage.root / issue.stored_path).read_bytes()


def test_a_briefing_made_from_the_command_line_carries_each_piece_in_order(
    office: tuple[App, Path], tmp_path: Path
) -> None:
    """第1期 from three chosen pieces: each one's title, unit, text, photos and captions in
    order; adoption in the 简报's channel recorded; then a period's best in 第2期."""
    app, config = office
    found = numbers(app)
    assert set(found) == {SPORTS, PARTY, WEIBO, READING, LABOUR}
    for title, channel in ((SPORTS, "news"), (PARTY, "weibo"), (READING, "news"),
                           (READING, "weibo"), (LABOUR, "weibo")):
        assert cli(config, "adopt", found[title], "--channel", channel).exit_code == 0

    refused = cli(config, "briefing", "new", "--pieces", f"{found[SPORTS]},20261119-99999")
    assert refused.exit_code == 1
    assert "没有登记编号为 20261119-99999 的稿件，简报未编印" in refused.output
    assert "Traceback" not in refused.output

    out = tmp_path / "简报.docx"
    chosen = [found[SPORTS], found[WEIBO], found[PARTY]]
    made = cli(config, "briefing", "new", "--pieces", ",".join(chosen), "--title", "运动与党建",
               "--out", str(out))
    assert made.exit_code == 0, made.output
    assert f"已编印《教育简报》2026年第1期，共 3 篇：{'、'.join(chosen)}" in made.output
    assert "已记录“本局简报”采用 3 篇。" in made.output

    rows = layout(out.read_bytes())
    assert out.read_bytes() == stored(app, 1)
    text = [row[0] for row in rows]
    assert text[:4] == ["教育简报", "2026年第1期", "测试教育局办公室\t2026年11月19日", "运动与党建"]
    assert not any("{" in line for line in text)
    sports, weibo, party = blocks(rows, [SPORTS, WEIBO, PARTY])
    assert sports == [
        ("（来源：实验小学）", 0), (chinese(110, 1), 0), (chinese(90, 2), 0),
        ("", 1), ("图为运动会开幕式", 0), ("", 1), ("图为接力赛", 0), ("", 0),
    ]
    assert weibo == [("（来源：人文学院）", 0), (chinese(120, 4), 0), ("", 1), ("图为课堂", 0),
                     ("", 0)]
    # The photo inside the Word file, not the one sent beside it as well.
    assert party[:4] == [("（来源：组织部）", 0), (chinese(260, 3), 0), ("", 1),
                         ("图为党建工作推进会现场", 0)]
    assert party[4][0] == "测试教育局办公室\t2026年11月19日印发"
    document = docx.Document(str(out))
    # The red rule under the heading, in the order Word's schema wants (else Word
    # calls the file damaged).
    rule = document.paragraphs[2]._p.pPr
    assert rule is not None
    assert [child.tag.rsplit("}", 1)[1] for child in rule] == ["pBdr", "tabs"]
    widths = [shape.width.cm for shape in document.inline_shapes]
    assert len(widths) == 4 and all(w <= 14.01 for w in widths)
    assert round(document.inline_shapes[1].height.cm, 1) == 18.0  # the portrait one

    with session(app.engine) as db:
        carried = db.exec(select(BriefingPiece).order_by(col(BriefingPiece.position))).all()
        adoptions = {a.id: a for a in db.exec(select(Adoption)
                                              .where(Adoption.channel == "briefing")).all()}
        trail = db.exec(select(Audit).where(Audit.action == "briefing.make")).all()
    assert [row.adoption_id in adoptions for row in carried] == [True, True, True]
    assert len(trail) == 1 and "教育简报2026年第1期" in trail[0].detail

    # A period's best: the adopted pieces not yet carried, most points first.
    best = cli(config, "briefing", "new", "--period", "2026-11", "--best", "5")
    assert best.exit_code == 0, best.output
    assert (f"已编印《教育简报》2026年第2期，共 2 篇：{found[READING]}、{found[LABOUR]}"
            in best.output)
    reading, labour = blocks(layout(stored(app, 2)), [READING, LABOUR])
    # The piece without a picture in its Word file: the photo sent beside it, as PNG.
    assert [count for _, count in reading].count(1) == 1
    second = docx.Document(io.BytesIO(stored(app, 2)))
    media = sorted(part.content_type for part in second.part.package.parts
                   if part.partname.startswith("/word/media/"))
    assert media == ["image/jpeg", "image/png"]  # 劳动教育's JPEG; the WEBP made PNG
    assert ("图为劳动成果展", 0) in labour

    listed = cli(config, "briefing", "list")
    assert listed.exit_code == 0
    assert "2026年第2期" in listed.output and "2026年第1期" in listed.output


@SQLITE
def test_the_offices_own_template_is_filled_and_keeps_its_letterhead(
    office: tuple[App, Path], tmp_path: Path
) -> None:
    """Placeholders filled in the header and the body; the pieces where {正文} stands,
    between the office's own paragraphs; without the 简报 channel configured, no
    adoption and one line saying so."""
    app, config = office
    shipped = cli(config, "briefing", "template", "--out", str(tmp_path / "默认.docx"))
    assert shipped.exit_code == 0, shipped.output
    placeholders = "".join(p.text for p in docx.Document(str(tmp_path / "默认.docx")).paragraphs)
    assert all(p in placeholders for p in ("{简报名}", "{期号}", "{日期}", "{单位}", "{正文}"))
    template = docx.Document()
    template.sections[0].header.paragraphs[0].text = "{简报名}·第{期号}期"
    template.add_paragraph("某某县教育局办公室主办")
    body = template.add_paragraph("{正")
    body.add_run("文}")  # split across runs, as Word often does
    template.add_paragraph("抄送：各学校")
    template.save(str(tmp_path / "简报模板.docx"))
    text = config.read_text(encoding="utf-8").replace('key = "briefing"', 'key = "other"')
    config.write_text(text + '\n[briefing]\ntemplate = "简报模板.dotx"\n', encoding="utf-8")
    wrong = cli(config, "briefing", "list")
    assert wrong.exit_code == 2 and "简报模板应为 Word .docx 文件" in wrong.output
    config.write_text(text + '\n[briefing]\ntitle = "工作简报"\ntemplate = "简报模板.docx"\n',
                      encoding="utf-8")

    made = cli(config, "briefing", "new", "--pieces", numbers(app)[WEIBO])
    assert made.exit_code == 0, made.output
    assert "未记录采用：采用渠道中没有“briefing”" in made.output
    document = docx.Document(io.BytesIO(stored(app, 1)))
    assert document.sections[0].header.paragraphs[0].text == "工作简报·第1期"
    lines = [p.text for p in document.paragraphs]
    assert lines[0] == "某某县教育局办公室主办" and lines[-1] == "抄送：各学校"
    assert lines[1:4] == [WEIBO, "（来源：人文学院）", chinese(120, 4)]
    assert not any("{" in line for line in lines)


@SQLITE
def test_a_piece_sent_as_a_doc_keeps_its_photos_and_captions(office: tuple[App, Path]) -> None:
    """A Word 97 .doc is converted again for the 简报: its two photos, each above its
    caption, as they are in the .docx it was saved from."""
    if not (shutil.which("soffice") or shutil.which("libreoffice")):
        pytest.skip("LibreOffice (libreoffice-writer-nogui) is not installed")
    app, config = office
    send(app, NOW, (FIXTURES / "mail" / "clients" / "19_foxmail_legacy_doc.eml").read_bytes())
    number = numbers(app)["“喆思讲坛”邀请赵镕教授谈经典阅读"]
    made = cli(config, "briefing", "new", "--pieces", number)
    assert made.exit_code == 0, made.output
    assert "无法读取" not in made.output
    [piece] = blocks(layout(stored(app, 1)), ["“喆思讲坛”邀请赵镕教授谈经典阅读"])
    photos = [i for i, (_, count) in enumerate(piece) if count]
    assert len(photos) == 2
    assert [piece[i + 1][0] for i in photos] == ["图 1 赵镕教授作专题报告",
                                                 "图为互动环节同学们踊跃提问"]


@SQLITE
def test_the_console_makes_an_issue_to_download_and_a_piece_shows_it(
    office: tuple[App, Path]
) -> None:
    """A clerk ticks an adopted piece and pastes another; the issue is listed, downloads
    as the Word file, and the piece's page names it. A viewer cannot make one; an
    unknown number is refused and takes no number."""
    app, config = office
    found = numbers(app)
    assert cli(config, "adopt", found[SPORTS], "--channel", "news").exit_code == 0
    add_user(app, "lihua", "clerk")
    add_user(app, "wang", "viewer")
    clerk = logged_in(app, "lihua")
    page = clerk.get("/briefings")
    assert page.status_code == 200 and "还没有编印过简报" in page.text
    assert f'name="piece" value="{found[SPORTS]}"' in page.text  # the month's adopted piece
    csrf = csrf_of(page.text)

    wrong = clerk.post("/briefings", data={"csrf": csrf, "mode": "pieces",
                                           "numbers": "20261119-99999", "date": "2026-11-19"})
    assert wrong.status_code == 409 and "没有登记编号为 20261119-99999 的稿件" in wrong.text
    made = clerk.post("/briefings", data={
        "csrf": csrf, "mode": "pieces", "piece": [found[SPORTS]], "numbers": found[WEIBO],
        "title": "", "date": "2026-11-19"})
    assert made.status_code == 303, made.text
    listing = clerk.get(made.headers["location"])
    assert "已编印 2026年第1期（2 篇）" in listing.text
    assert "记“本局简报”采用 2 篇" in listing.text
    with session(app.engine) as db:
        issue = db.exec(select(Briefing)).one()
    download = clerk.get(f"/briefings/{issue.id}/file")
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    rows = layout(download.content)
    assert rows[3][0] == SPORTS  # no title given: its line is dropped
    assert len(blocks(rows, [SPORTS, WEIBO])) == 2
    assert sum(count for _, count in rows) == 3
    piece = clerk.get(f"/pieces/{found[SPORTS]}")
    assert f'<a href="/briefings/{issue.id}/file">2026年第1期</a>' in piece.text
    assert "编入简报" in piece.text  # the audit trail

    # The month's best: its one adopted piece is in 第1期 already.
    none_left = clerk.post("/briefings", data={"csrf": csrf, "mode": "best",
                                               "period": "2026-11", "best": "5"})
    assert none_left.status_code == 409 and "2026年11月没有尚未编入简报的采用稿件" in none_left.text
    # An issue dated ahead: what the clerk is told stays with it, on the list.
    ahead = clerk.post("/briefings", data={"csrf": csrf, "mode": "pieces",
                                           "numbers": found[PARTY], "date": "2026-11-25"})
    assert ahead.status_code == 303, ahead.text
    told = clerk.get(ahead.headers["location"]).text
    note = "印发日期 2026-11-25 在今天之后，未记录采用"
    assert 'id="notes"' in told and note in told
    assert note in clerk.get("/briefings").text

    viewer = logged_in(app, "wang")
    shown = viewer.get("/briefings")
    assert shown.status_code == 200 and "2026年第1期" in shown.text
    assert 'id="make"' not in shown.text
    refused = viewer.post("/briefings", data={"csrf": csrf_of(shown.text), "mode": "pieces",
                                              "numbers": found[PARTY]})
    assert refused.status_code == 403
    forged = clerk.post("/briefings", data={"csrf": "x", "numbers": found[PARTY]})
    assert forged.status_code == 403
    assert viewer.get("/briefings/999/file").status_code == 404
    with session(app.engine) as db:
        assert [b.number for b in db.exec(select(Briefing)).all()] == [1, 2]


def test_two_issues_made_at_once_get_two_numbers(app: App, caplog: pytest.LogCaptureFixture
                                                 ) -> None:
    """Two clerks at once: the second takes the number the first holds, fails on the
    unique (year, number) and takes the next; a failed write takes no number."""
    first_holds = threading.Event()
    made: list[int] = []

    def write(issue: Briefing) -> str:
        if not made and not first_holds.is_set():
            first_holds.set()
            time.sleep(0.5)  # the other one reads the same highest number meanwhile
        return f"briefings/{issue.year}/第{issue.number}期.docx"

    def make() -> None:
        issue = briefings.create(app.engine, year=2026, title="", issued_on=NOW.date(),
                                 created_by="t", now=NOW, submission_ids=[], write=write)
        made.append(issue.number)

    def broken(_issue: Briefing) -> str:
        raise OSError("disk full")

    with pytest.raises(OSError):
        briefings.create(app.engine, year=2026, title="", issued_on=NOW.date(), created_by="t",
                         now=NOW, submission_ids=[], write=broken)
    caplog.set_level(logging.INFO, "mailintake.store.briefings")
    one = threading.Thread(target=make)
    one.start()
    assert first_holds.wait(10)
    make()
    one.join()
    assert sorted(made) == [1, 2]
    next_year = briefings.create(app.engine, year=2027, title="", issued_on=NOW.date(),
                                 created_by="t", now=NOW, submission_ids=[], write=write)
    assert next_year.number == 1  # counted per year
    assert "briefing 2026/1 taken by another process" in caplog.text


def test_a_photo_word_cannot_take_is_left_out_and_named() -> None:
    """Bytes no picture reader takes: neither the photo nor its caption is printed, and
    the piece is named for the clerk's note; the text and the good photo stay."""
    good = Photo(photo(800, 600, 1), 800, 600, "图为好照片")
    bad = Photo(b"\xff\xd8not a picture at all", 800, 600, "图为坏照片")
    dropped: list[str] = []
    data = build_document(open_template(None), {}, [
        Laid("20261119-00007", "标题", "实验小学", ["正文一段。"], [bad, good])], 14, dropped)
    rows = layout(data)
    assert dropped == ["20261119-00007"]
    assert ("图为好照片", 0) in rows and not any("坏照片" in text for text, _ in rows)
    assert sum(count for _, count in rows) == 1


@SQLITE
def test_numbers_lost_to_other_clerks_every_time_end_in_one_chinese_line(
    office: tuple[App, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When every number tried is taken meanwhile, the clerk reads why and may try again:
    no traceback, no English, no issue recorded."""
    app, config = office

    def always_taken(*_args: object, **_kwargs: object) -> Briefing:
        raise briefings.NumberTaken("no free briefing number for 2026 after 5 tries")

    monkeypatch.setattr(briefings, "create", always_taken)
    refused = cli(config, "briefing", "new", "--pieces", numbers(app)[WEIBO])
    assert refused.exit_code == 1
    assert "同一时间编印的简报太多，期号未能确定，请稍后再试" in refused.output
    assert "Traceback" not in refused.output and "no free" not in refused.output


@SQLITE
def test_a_number_taken_while_the_file_was_built_builds_it_again_for_the_next(
    office: tuple[App, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Word file is built for the number expected before the number is taken; when
    another clerk took that number meanwhile, the issue is the next one, and so is the
    number printed in its file."""
    app, config = office
    assert cli(config, "briefing", "new", "--pieces", numbers(app)[SPORTS]).exit_code == 0
    monkeypatch.setattr(briefings, "next_number", lambda _engine, _year: 1)  # stale
    made = cli(config, "briefing", "new", "--pieces", numbers(app)[WEIBO])
    assert made.exit_code == 0, made.output
    assert "2026年第2期" in made.output
    assert [row[0] for row in layout(stored(app, 2))][1] == "2026年第2期"
