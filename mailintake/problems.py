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
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mailintake.mailbox.base import MailboxError

if TYPE_CHECKING:
    from mailintake.config.settings import Config

EXIT_FAILED = 1
EXIT_SETUP = 2
EXIT_MAILBOX = 3
EXIT_DATABASE = 4
EXIT_FILES = 5


class Problem(Exception):
    """An error whose message is already the administrator's line (Chinese)."""

    exit_code = EXIT_FAILED


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
    database = _database(exc, config)
    if database is not None:
        return Explained(database, EXIT_DATABASE)
    if isinstance(exc, OSError) and (exc.filename or exc.errno in _DISK_ERRORS):
        return Explained(_files(exc, config), EXIT_FILES)
    return None


def transient(exc: BaseException) -> bool:
    """Whether time may mend ``exc`` with nobody acting: a server away, a lock held.

    The daemon retries these with backoff; anything else stops it with its line.
    """
    if isinstance(exc, MailboxError):
        cause = exc.__cause__
        return not (isinstance(cause, OSError) and cause.filename)
    orig = _dbapi_error(exc)
    if orig is None:
        return False
    name = getattr(orig, "sqlite_errorname", None)
    if name is not None:
        return str(name).startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
    sqlstate = getattr(orig, "sqlstate", None)
    # PostgreSQL: a lost connection or a server restarting mends; a full disk does not.
    return type(exc).__name__ == "OperationalError" and sqlstate != "53100"


# ------------------------------------------------------------------ files


_REASONS = {
    errno.ENOSPC: "磁盘已满",
    errno.EDQUOT: "超出磁盘配额",
    errno.EROFS: "文件系统是只读挂载的",
    errno.EACCES: "没有权限",
    errno.EPERM: "不允许修改（可能设置了 chattr +i 不可修改属性）",
    errno.ENOTDIR: "路径中有一段是文件而不是文件夹",
    errno.EEXIST: "已有同名文件",
    errno.EISDIR: "这是一个文件夹",
    errno.ENOENT: "不存在",
    errno.EIO: "磁盘读写出错",
    errno.ENAMETOOLONG: "名称太长",
    errno.EMFILE: "打开的文件太多",
    errno.ECONNREFUSED: "连接被拒绝",
    errno.ETIMEDOUT: "连接超时",
    errno.ENETUNREACH: "网络不可达",
    errno.EHOSTUNREACH: "主机不可达",
}


#: What a write that names no file may fail with and still be the disk's doing.
_DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO)


def os_reason(exc: OSError) -> str:
    """The Chinese for an operating system error (its strerror is English)."""
    if isinstance(exc, TimeoutError) and exc.errno is None:
        return "超时"
    return _REASONS.get(exc.errno or 0, f"系统错误 {exc.errno}")


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


def _file_in_the_way(path: Path) -> Path:
    """The file that stands where ``path`` needs a folder (itself or an ancestor)."""
    for candidate in [path, *path.parents]:
        if candidate.exists() and not candidate.is_dir():
            return candidate
    return path


def _files(exc: OSError, config: Config | None) -> str:
    code = exc.errno
    if not exc.filename:  # a write that failed names no file: find the disk it was on
        return _disk(code, _unnamed(code, config))
    path = Path(os.fsdecode(exc.filename))
    place = _place(path, config)
    key = f"配置 {place[0]} " if place else "配置中的路径"
    if code in (errno.ENOTDIR, errno.EEXIST):
        blocker = _file_in_the_way(path)
        where = _place(blocker, config)
        hint = f"配置 {where[0]} " if where and blocker == where[1] else key
        return f"{blocker} 是一个文件，不是文件夹：请检查{hint}是否写错，或把这个文件移走"
    if code in (errno.EACCES, errno.EPERM):
        return (f"无法写入 {path}（{_REASONS[code]}）：请让运行 mailintake 的用户对它"
                "和所在文件夹有写权限")
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        return _disk(code, f"{place[1]}（{place[0]}）" if place else str(path))
    return f"读写 {path} 失败（{os_reason(exc)}）：请检查该位置和所在的磁盘；详情见日志"


def _disk(code: int | None, shown: str) -> str:
    shown += "" if shown.endswith("）") else " "
    if code == errno.ENOSPC:
        return (f"{shown}所在的磁盘已满，无法写入：请腾出空间或换到更大的磁盘，"
                "然后重新运行（没有处理完的邮件仍留在收件箱）")
    if code == errno.EDQUOT:
        return (f"{shown}超出了磁盘配额，无法写入：请腾出空间或调高配额，"
                "然后重新运行（没有处理完的邮件仍留在收件箱）")
    if code == errno.EROFS:
        return (f"{shown}所在的文件系统是只读挂载的，无法写入：请重新挂载为可写，"
                "或在配置中改到可写的位置")
    return (f"读写 {shown}失败（{_REASONS.get(code or 0, f'系统错误 {code}')}）："
            "请检查所在的磁盘；详情见日志")


def _unnamed(code: int | None, config: Config | None) -> str:
    """The configured folders a write that named no file most likely failed in: those on
    a read-only mount (EROFS), else those on the disk with the least room left."""
    folders = [(key, folder, _existing(folder)) for key, folder in _folders(config)]
    hits: list[tuple[str, Path, Path]] = []
    if code == errno.EROFS:
        hits = [found for found in folders if _read_only_mount(found[2])]
    elif folders:
        room = {found[2]: _room(found[2]) for found in folders}
        device = {found[2]: found[2].stat().st_dev for found in folders}
        tightest = min(room, key=lambda there: room[there])
        hits = [found for found in folders if device[found[2]] == device[tightest]]
    shown = "、".join(f"{folder}（{key}）" for key, folder, _there in hits)
    return shown or "mailintake 写入的文件夹（[storage] dir、[database] url 等）"


#: Room on a disk below which a failed write is put down to the disk being full.
_LOW = 1024 * 1024


def _room(path: Path) -> int:
    """Bytes this user may still write on the disk that holds ``path``."""
    found = os.statvfs(path)
    return found.f_bavail * found.f_frsize


def _read_only_mount(path: Path) -> bool:
    """Whether ``path`` (or the nearest folder above it that exists) is on a read-only mount."""
    try:
        return bool(os.statvfs(_existing(path)).f_flag & os.ST_RDONLY)
    except OSError:
        return False


# --------------------------------------------------------------- database


def sqlite_file(url: str) -> Path | None:
    """The file a ``sqlite:///`` URL names; None for another database or memory."""
    if not url.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).absolute()


def shown_url(url: str) -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _dbapi_error(exc: BaseException) -> BaseException | None:
    """The driver's own error inside a SQLAlchemy one (SQLAlchemy loaded only if used)."""
    if "sqlalchemy" not in sys.modules:
        return None
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError) and isinstance(exc.orig, BaseException):
        return exc.orig
    return None


_PG_REASONS = [
    (("connection refused",), "连接被拒绝",
     "请确认 PostgreSQL 正在运行，并检查 [database] url 中的主机和端口"),
    (("could not translate host name", "failed to resolve host", "name or service not known",
      "temporary failure in name"),
     "主机名无法解析", "请检查 [database] url 中的主机名"),
    (("timeout", "timed out"), "连接超时", "请检查网络、防火墙和 [database] url 中的主机和端口"),
    (("password authentication failed", "no password supplied", "authentication failed"),
     "用户名或密码不对", "请检查 [database] url 中的用户名和密码"),
    (("no pg_hba.conf entry",), "服务器不允许本机连接",
     "请在 PostgreSQL 的 pg_hba.conf 中允许本机"),
    (("does not exist",), "数据库或用户不存在",
     "请先建好数据库和用户（createdb），或检查 [database] url 是否写错"),
    (("no space left", "could not extend file"), "数据库服务器的磁盘已满",
     "请给数据库服务器腾出空间"),
    (("read-only transaction",), "数据库是只读的", "请连接可写的主库，或检查数据库的只读设置"),
]


def _database(exc: BaseException, config: Config | None) -> str | None:
    orig = _dbapi_error(exc)
    if orig is None:
        return None
    url = config.database.url if config else ""
    name = getattr(orig, "sqlite_errorname", None)
    if name is not None:
        return _sqlite(str(name), sqlite_file(url))
    where = shown_url(url) if url else "数据库"
    text = " ".join(str(orig).split()).lower()
    for needles, reason, advice in _PG_REASONS:
        if any(needle in text for needle in needles):
            return f"无法使用数据库 {where}（{reason}）：{advice}"
    return f"无法使用数据库 {where}：请运行 mailintake doctor 检查 [database] url；详情见日志"


_SQLITE = [
    ("SQLITE_FULL", "数据库 {where} 所在的磁盘已满，无法写入：请腾出空间后重新运行"
                    "（没有处理完的邮件仍留在收件箱）"),
    ("SQLITE_CANTOPEN", "无法打开数据库 {where}：新安装请先运行 mailintake db upgrade；"
                        "否则请检查配置 [database] url 是否写错"),
    ("SQLITE_BUSY", "数据库 {where} 正被另一个进程锁住：请稍后重试"),
    ("SQLITE_LOCKED", "数据库 {where} 正被另一个进程锁住：请稍后重试"),
    ("SQLITE_NOTADB", "{where} 不是 SQLite 数据库：请检查配置 [database] url 是否指错了文件"),
    ("SQLITE_CORRUPT", "数据库 {where} 已损坏：请从备份恢复"),
    ("SQLITE_IOERR", "读写数据库 {where} 时磁盘出错：请检查这块磁盘"),
]


def _sqlite(name: str, file: Path | None) -> str:
    where = str(file) if file else "SQLite 数据库"
    if name.startswith("SQLITE_IOERR") and file is not None and _room(_existing(file)) < _LOW:
        name = "SQLITE_FULL"  # SQLite says "disk I/O error" when a write to its WAL finds no room
    if file is not None and (name.startswith("SQLITE_READONLY") or (
            name.startswith("SQLITE_CANTOPEN") and file.exists())):
        if _read_only_mount(file.parent):
            fix = "所在文件系统是只读挂载的）：请重新挂载为可写，或把数据库放到可写的磁盘上"
        else:
            fix = ("文件或所在文件夹不可写）：请让运行 mailintake 的用户能写这个文件和它所在的"
                   "文件夹，并去掉不可修改属性（chattr -i）")
        return f"数据库 {where} 无法写入（{fix}，然后重新运行（没有处理完的邮件仍留在收件箱）"
    line = next((text for prefix, text in _SQLITE if name.startswith(prefix)),
                "无法使用数据库 {where}（" + name + "）：请运行 mailintake doctor 检查；详情见日志")
    return line.format(where=where)


# ---------------------------------------------------------------- mailbox


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


# ---------------------------------------------------------------- at start


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
        blocker = _file_in_the_way(folder)
        if blocker.exists() and not blocker.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))
    if _read_only_mount(config.storage.dir):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(config.storage.dir))


def _existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists."""
    return next(p for p in [path, *path.parents] if p.exists())
