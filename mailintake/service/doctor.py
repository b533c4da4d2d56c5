"""``mailintake doctor``: one line per thing the daemon needs, and what to do
about each one that is wrong. The exit status is non-zero if any check fails.

Checks run in order and never change anything an administrator would notice:
the database is only read (migrations are reported, not applied), the IMAP
intake folder is selected but no mail in it is fetched or moved (a scratch
folder is created, a test mail put in the intake folder already flagged
deleted, so no intake lists it, is moved into it the way mail is moved, and
the folder deleted again: a server that will not let mailintake file mail
fails here and not at the first poll), SMTP is logged into and left; a test
mail goes out only with ``--send-test``. The lines are for the
administrator, in Chinese; server answers are quoted as they came.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mailintake.app import App
from mailintake.config.settings import Config, ConfigError, load_config
from mailintake.errors import os_reason
from mailintake.problems import explain
from mailintake.store import database

OK, WARN, FAIL = "正常", "提示", "失败"


@dataclass(frozen=True)
class Check:
    name: str
    state: str  # OK, WARN or FAIL
    detail: str
    advice: str = ""

    def line(self) -> str:
        text = f"[{self.state}] {self.name}：{self.detail}"
        return f"{text}。处理办法：{self.advice}" if self.advice else text


class Failed(Exception):
    """A check that failed, with what the administrator should do."""

    def __init__(self, detail: str, advice: str) -> None:
        super().__init__(detail)
        self.advice = advice


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _database(app: App) -> str:
    where = database.shown(app.engine)
    try:
        behind = database.check(app.engine) != {database.HEAD}
    except database.DatabaseNotReady as exc:
        raise Failed(str(exc), "") from exc  # the line says what to do
    except database.DatabaseError as exc:
        explained = explain(exc, app.config)
        if explained is not None:  # the line says what to do
            raise Failed(explained.line, "") from exc
        raise Failed(f"无法连接 {where}（{_one_line(getattr(exc, 'orig', None) or exc)}）",
                     "检查 [database] url、数据库服务是否运行、账号权限") from exc
    if behind:
        raise Failed(f"{where} 的表结构不是最新",
                     "运行 mailintake db upgrade（systemd 服务启动前会自动执行）")
    return f"{where}，表结构为最新"


def _writable(folder: Path, what: str) -> str:
    probe = folder / f".doctor-{uuid.uuid4().hex}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise Failed(f"{folder} 不可写（{os_reason(exc)}）",
                     f"确认{what}存在且服务用户有写权限（systemd 下用 StateDirectory）") from exc
    return f"{folder} 可写"


def _imap(app: App) -> str:
    from mailintake.intake.records import FOLDERS as FOLDER_OF
    from mailintake.mailbox.base import MailboxError
    from mailintake.mailbox.imap import ImapError, ImapMailbox

    box = app.config.mailbox
    if box.kind == "maildir":
        assert box.path is not None
        if not (box.path / "new").is_dir():
            raise Failed(f"Maildir {box.path} 不存在", "检查 [mailbox] path")
        return f"Maildir {box.path}"
    try:
        mailbox = app.open_mailbox()
    except (MailboxError, ConfigError) as exc:
        raise Failed(_one_line(exc), _imap_advice(str(exc))) from exc
    assert isinstance(mailbox, ImapMailbox)
    try:
        waiting = len(mailbox.list_new())  # login, ID, SELECT of the intake folder
        facts = mailbox.server_facts()  # same connection: which outcome folders exist
        trial = mailbox.try_folders()
    except MailboxError as exc:
        operation = exc.operation if isinstance(exc, ImapError) else ""
        step = next((v for k, v in _FOLDER_STEPS.items() if operation.startswith(k)), None)
        if step is None:
            raise Failed(_one_line(exc), _imap_advice(str(exc))) from exc
        advice = step[1]
        if "stays in" in operation:
            advice += (f"；测试邮件（主题“mailintake folder test”）未能移走，"
                       f"请在 {box.folder} 中手工删除")
        raise Failed(f"已登录，但无法{step[0]}（服务器答复：{_one_line(exc)}）", advice) from exc
    finally:
        mailbox.close()
    missing = [f for f in dict.fromkeys(FOLDER_OF.values())
               if not any(name.endswith(f) for name in facts.folders)]
    notes = [f"已登录 {box.host}:{box.port}，{box.folder} 中有 {waiting} 封待处理",
             "服务器支持 ID 命令" if facts.has_id else "服务器不支持 ID 命令（无妨）",
             "已新建测试文件夹、移入测试邮件并删除"
             + (f"（文件夹建在“{trial.prefix}”之下）" if trial.prefix else ""),
             _MOVE_METHODS[trial.method]]
    if missing:
        notes.append(f"文件夹 {'、'.join(missing)} 尚不存在，首次处理时会自动创建")
    return "；".join(notes)


# The step of ImapMailbox.try_folders that failed (the start of its
# operation), said for the administrator, and what to do about it.
_FOLDER_STEPS = {
    "create test folder": (
        "新建文件夹",
        "请邮箱管理员给该账号开通新建文件夹的权限（顶层和 INBOX 之下都已试过）"),
    "append test mail": (
        "在收件文件夹中放入测试邮件", "确认邮箱配额未满、该账号可以保存邮件"),
    "move test mail": (
        "把测试邮件移出收件文件夹",
        "确认该账号可以在收件文件夹中移动或复制邮件、给邮件加删除标记，且配额未满"),
    "check test mail": (
        "确认测试邮件已移到位", "服务器移动邮件的结果与预期不符，请联系邮箱管理员"),
    "delete test folder": (
        "删除测试文件夹", "请在网页邮箱中手工删除名为 mailintake-test-… 的文件夹"),
}
_MOVE_METHODS = {
    "MOVE": "移动邮件用 MOVE 命令",
    "UID EXPUNGE": "服务器不支持 MOVE，改为复制后按编号清除原件",
    "EXPUNGE": "服务器不支持 MOVE 和 UIDPLUS，改为复制后清除原件"
               "（收件夹里有他人标记删除的邮件时，原件只标记删除、不清除）",
    "FLAG": "服务器不支持 MOVE 和 UIDPLUS，且收件夹里有他人标记删除而未清除的邮件，"
            "为免一并清除，原件（含本次测试邮件）只标记删除，待邮件客户端清除",
}


def _imap_advice(message: str) -> str:
    lowered = message.lower()
    if "login" in lowered or "authentic" in lowered or "credentials" in lowered:
        return "检查 [mailbox] username 和密码；126/163/QQ 邮箱需用“客户端授权码”而非登录密码"
    if "select" in lowered or "list" in lowered:
        return "检查 [mailbox] folder 是否存在（区分大小写）"
    return "检查 [mailbox] host、port、security，以及本机能否连到该端口（防火墙）"


def _smtp(app: App, send_to: str | None) -> str:
    from tenacity import wait_none

    from mailintake.replies.outbox import DeliveryError
    from mailintake.replies.smtp import SmtpSender
    from mailintake.store.models import OutboxMessage

    smtp = app.config.smtp
    if smtp.kind == "folder":
        assert smtp.path is not None
        return "回复写入文件夹（不经 SMTP）：" + _writable(smtp.path, "发件文件夹")
    try:
        # One attempt, no pause: the administrator waits for this line.
        sender = SmtpSender(smtp, smtp.password(), retry_wait=wait_none(), attempts=1)
    except ConfigError as exc:
        raise Failed(str(exc), "检查 [smtp] password_file 或 password_env") from exc
    subject = "【测试】mailintake 发信测试"
    try:
        sender.connect()
        if send_to:
            raw = app.replies.plain(to=send_to, subject=subject,
                                    body="这是一封测试邮件，收到即说明发信设置正确。\n",
                                    now=app.clock())
            sender.send(OutboxMessage(dedup_key="doctor", kind="test", recipient=send_to,
                                      subject=subject, raw=raw))
    except DeliveryError as exc:
        advice = ("检查 [smtp] username 和密码（客户端授权码）" if "login" in str(exc).lower()
                  else "检查 [smtp] host、port、security，以及本机能否连到该端口")
        raise Failed(_one_line(exc), advice) from exc
    finally:
        sender.close()
    done = f"已登录 {smtp.host}:{smtp.port}"
    hint = f"，测试邮件已发往 {send_to}" if send_to else "（加 --send-test 地址 可发测试邮件）"
    return done + hint


def _libreoffice() -> str:
    from mailintake.reading.convert import soffice

    found = soffice()
    if found is None:
        raise Failed("未找到 LibreOffice（soffice）",
                     "安装 libreoffice-writer；否则 .doc/.wps 稿件只能转人工处理")
    return found


def _font(app: App) -> str:
    from mailintake.office.chart import cjk_font

    found = cjk_font(app.config.digest.font)
    if found is None:
        raise Failed("未找到中文字体", "安装 fonts-noto-cjk，或在 [digest] font 指定字体文件")
    return found


def _calendar(config: Config, now: datetime) -> str:
    from mailintake.config.calendar import TeachingCalendar

    today = now.astimezone(config.office.tz).date()
    gaps = calendar_warnings(config, now)
    if gaps:
        raise Failed("；".join(gaps), "")  # each gap says what to do
    week = TeachingCalendar(config.calendar).week_of(today)
    where = f"今天是{week.semester.name}第 {week.number} 教学周" if week else "今天不在学期内"
    return f"{where}；今后四周都在已配置的学期内，节假日数据齐全"


def calendar_warnings(config: Config, now: datetime) -> list[str]:
    """The calendar's gaps for today and the next four weeks (the daemon logs them)."""
    from mailintake.config.calendar import TeachingCalendar

    return TeachingCalendar(config.calendar).gaps(now.astimezone(config.office.tz).date())


def checks(config_path: Path, send_to: str | None = None, now: datetime | None = None
           ) -> Iterator[Check]:
    """Every check's result, in order; stops after the config if it cannot be read.
    ``now`` is the moment the calendar is checked for (default: the app's clock)."""
    try:
        config: Config = load_config(config_path)
        app = App.from_config(config, create_database=False)  # only `db upgrade` makes one
    except (ConfigError, OSError) as exc:
        yield Check("配置", FAIL, _one_line(exc), f"修改 {config_path} 后再运行 mailintake doctor")
        return
    except Exception as exc:  # a template or path problem found while building
        yield Check("配置", FAIL, _one_line(exc), "检查配置中的模板目录与路径")
        return
    yield Check("配置", OK, str(config_path))
    steps: list[tuple[str, Callable[[], str]]] = [
        ("数据库", lambda: _database(app)),
        ("存储目录", lambda: _writable(config.storage.dir, "[storage] dir")),
        ("收件（IMAP）", lambda: _imap(app)),
        ("发件（SMTP）", lambda: _smtp(app, send_to)),
        ("LibreOffice", _libreoffice),
        ("中文字体", lambda: _font(app)),
        ("教学日历", lambda: _calendar(config, now or app.clock())),
    ]
    try:
        for name, step in steps:
            try:
                yield Check(name, OK, step())
            except Failed as exc:
                state = WARN if name in ("LibreOffice", "中文字体", "教学日历") else FAIL
                yield Check(name, state, str(exc), exc.advice)
    finally:
        database.close(app.engine)


def run(config_path: Path, send_to: str | None = None, echo: Callable[[str], None] = print,
        now: datetime | None = None) -> int:
    """Print one line per check; 0 when nothing failed, 1 otherwise."""
    failed = 0
    for check in checks(config_path, send_to, now):
        echo(check.line())
        failed += check.state == FAIL
    echo("全部检查通过。" if not failed else f"{failed} 项检查未通过，请按提示处理。")
    return 1 if failed else 0

