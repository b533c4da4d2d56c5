"""What only a person can put right, said to the administrator in one line.

A full disk, a read-only database, a folder in the config that is a file, a
database server that does not answer, a mail server name that does not
resolve: each reaches the administrator as one line in Chinese that says what
is wrong, where, and what to do. The English detail (the exception) goes to
the log. Nothing here changes what was done: a cycle that stops on one of
these has moved no mail it did not file, and the next run takes up the rest.

Exit statuses of the command line:

- 1: anything else (the line says to look in the log);
- 2: the configuration, a reply template, or a database not set up yet;
- 3: the mailbox (IMAP server, Maildir);
- 4: the database server or file;
- 5: files on disk (``[storage] dir``, the reply folder, the Maildir's disk).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mailintake.errors import (
    DISK_ERRORS,
    EXIT_DATABASE,
    EXIT_FILES,
    EXIT_MAILBOX,
    REASONS,
    Problem,
    disk_line,
    existing,
    file_in_the_way,
    os_reason,
    read_only_mount,
    room,
)
from mailintake.mailbox.base import MailboxError
from mailintake.store.errors import database_line, database_transient, sqlite_file

if TYPE_CHECKING:
    from mailintake.config.settings import Config

@dataclass(frozen=True)
class Explained:
    line: str
    exit_code: int


def explain(exc: BaseException, config: Config | None = None) -> Explained | None:
    """The administrator's line for ``exc``; None when it is not theirs to fix (a bug)."""
    if isinstance(exc, Problem):
        return Explained(str(exc), exc.exit_code)
    if isinstance(exc, MailboxError):
        cause = exc.__cause__
        if isinstance(cause, OSError) and cause.filename:  # a Maildir on disk
            return Explained(_files(cause, config), EXIT_FILES)
        return Explained(_mailbox(exc, config), EXIT_MAILBOX)
    database = database_line(exc, config.database.url if config else "")
    if database is not None:
        return Explained(database, EXIT_DATABASE)
    if isinstance(exc, OSError) and (exc.filename or exc.errno in DISK_ERRORS):
        return Explained(_files(exc, config), EXIT_FILES)
    return None


def transient(exc: BaseException) -> bool:
    """Whether time may mend ``exc`` with nobody acting: a server away, a lock held.

    The daemon retries these with backoff; anything else stops it with its line.
    """
    if isinstance(exc, MailboxError):
        cause = exc.__cause__
        return not (isinstance(cause, OSError) and cause.filename)
    return database_transient(exc)


def _mailbox_causes() -> list[tuple[type[BaseException], str]]:
    """What stopped a connection to the IMAP server, and the line for it (most specific
    first; ``{host}``, ``{server}`` and ``{user}`` are filled in)."""
    import socket
    import ssl

    return [
        (socket.gaierror, "找不到邮件服务器 {host}（域名无法解析）：请检查配置 [mailbox] host "
                          "的拼写和本机的 DNS 设置"),
        (ConnectionRefusedError, "邮件服务器 {server} 拒绝连接：请检查配置 [mailbox] host 和 "
                                 "port（993 用 security = \"tls\"，143 用 \"starttls\"）"),
        (TimeoutError, "连接邮件服务器 {server} 超时：请检查网络、防火墙和配置 [mailbox] port"),
        (ssl.SSLCertVerificationError, "邮件服务器 {server} 的证书未通过验证：请检查配置 "
                                       "[mailbox] host 是否与证书上的名称一致；自签证书请设置 "
                                       "[mailbox] ca_file"),
        (ssl.SSLError, "与邮件服务器 {server} 建立加密连接失败：请检查配置 [mailbox] port 与 "
                       "security 是否配对（993 用 \"tls\"，143 用 \"starttls\"）"),
    ]


def _mailbox(exc: MailboxError, config: Config | None) -> str:
    box = config.mailbox if config else None
    if box is None or box.kind == "maildir":
        where = f"Maildir {box.path}" if box else "邮箱"
        return f"无法访问{where}：请检查配置 [mailbox] path；详情见日志"
    fill = {"host": box.host, "server": f"{box.host}:{box.port}", "user": box.username}
    cause = exc.__cause__
    for kind, line in _mailbox_causes():
        if isinstance(cause, kind):
            return line.format(**fill)
    if type(cause).__name__ == "LoginError":  # imapclient's
        line = ("邮箱 {user} 登录 {server} 失败：请检查用户名和密码；126/163/QQ 邮箱要用"
                "“客户端授权码”而不是登录密码")
    elif isinstance(cause, OSError):
        line = ("无法连接邮件服务器 {server}（" + os_reason(cause) + "）：请检查网络和配置 "
                "[mailbox] host、port")
    else:
        line = ("访问邮件服务器 {server} 时出错：请运行 mailintake doctor 检查 [mailbox] 设置；"
                "服务器的回答见日志")
    return line.format(**fill)


def check_folders(config: Config) -> None:
    """Raise now what a configured folder would stop the first mail with later.

    A folder (or one above it) that is a file, or one on a read-only file
    system: ``mailintake run`` stops at start with its line rather than
    waiting for mail to find out.
    """
    folders = [config.storage.dir]
    if config.mailbox.kind == "maildir" and config.mailbox.path is not None:
        path = config.mailbox.path
        folders += [path / "new", path / "cur", path / "tmp"]
    if config.smtp.kind == "folder" and config.smtp.path is not None:
        folders.append(config.smtp.path)
    for folder in folders:
        blocker = file_in_the_way(folder)
        if blocker.exists() and not blocker.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))
    if read_only_mount(config.storage.dir):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(config.storage.dir))


def _folders(config: Config | None) -> list[tuple[str, Path]]:
    """Each folder the config names, with its key."""
    if config is None:
        return []
    named = [("[storage] dir", config.storage.dir), ("[mailbox] path", config.mailbox.path),
             ("[smtp] path", config.smtp.path), ("templates_dir", config.templates_dir)]
    database = sqlite_file(config.database.url)
    if database is not None:
        named.append(("[database] url", database.parent))
    return [(key, folder.absolute()) for key, folder in named if folder is not None]


def _place(path: Path, config: Config | None) -> tuple[str, Path] | None:
    """The configured folder ``path`` is in (the innermost), with its key."""
    path = path.absolute()
    found = [(key, folder) for key, folder in _folders(config)
             if path == folder or folder in path.parents]
    return max(found, key=lambda kf: len(kf[1].parts), default=None)


def _files(exc: OSError, config: Config | None) -> str:
    code = exc.errno
    if not exc.filename:  # a write that failed names no file: find the disk it was on
        return disk_line(code, _unnamed(code, config))
    path = Path(os.fsdecode(exc.filename))
    place = _place(path, config)
    key = f"配置 {place[0]} " if place else "配置中的路径"
    if code in (errno.ENOTDIR, errno.EEXIST):
        blocker = file_in_the_way(path)
        where = _place(blocker, config)
        hint = f"配置 {where[0]} " if where and blocker == where[1] else key
        return f"{blocker} 是一个文件，不是文件夹：请检查{hint}是否写错，或把这个文件移走"
    if code in (errno.EACCES, errno.EPERM):
        return (f"无法写入 {path}（{REASONS[code]}）：请让运行 mailintake 的用户对它"
                "和所在文件夹有写权限")
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        return disk_line(code, f"{place[1]}（{place[0]}）" if place else str(path))
    return f"读写 {path} 失败（{os_reason(exc)}）：请检查该位置和所在的磁盘；详情见日志"


def _unnamed(code: int | None, config: Config | None) -> str:
    """The configured folders a write that named no file most likely failed in: those on
    a read-only mount (EROFS), else those on the disk with the least room left."""
    folders = [(key, folder, existing(folder)) for key, folder in _folders(config)]
    hits: list[tuple[str, Path, Path]] = []
    if code == errno.EROFS:
        hits = [found for found in folders if read_only_mount(found[2])]
    elif folders:
        free = {found[2]: room(found[2]) for found in folders}
        device = {found[2]: found[2].stat().st_dev for found in folders}
        tightest = min(free, key=lambda there: free[there])
        hits = [found for found in folders if device[found[2]] == device[tightest]]
    shown = "、".join(f"{folder}（{key}）" for key, folder, _there in hits)
    return shown or "mailintake 写入的文件夹（[storage] dir、[database] url 等）"


