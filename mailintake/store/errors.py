"""What a database error means for the administrator, in one Chinese line.

The driver's own error (sqlite3's, psycopg's) sits inside SQLAlchemy's; its
code or text says whether the file is missing, read-only or full, or the
server is down, unknown or refusing the user. ``problems.explain`` asks here.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from mailintake.errors import LOW_ROOM, existing, read_only_mount, room


def sqlite_file(url: str) -> Path | None:
    """The file a ``sqlite:///`` URL names; None for another database or memory."""
    if not url.startswith("sqlite"):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).absolute()


def shown_url(url: str) -> str:
    """The database URL without its password."""
    return make_url(url).render_as_string(hide_password=True)


def driver_error(exc: BaseException) -> BaseException | None:
    """The driver's own error inside a SQLAlchemy one."""
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


def database_line(exc: BaseException, url: str) -> str | None:
    """The administrator's line for a database error; None when ``exc`` is none."""
    orig = driver_error(exc)
    if orig is None:
        return None
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
    if name.startswith("SQLITE_IOERR") and file is not None and room(existing(file)) < LOW_ROOM:
        name = "SQLITE_FULL"  # SQLite says "disk I/O error" when a write to its WAL finds no room
    if file is not None and (name.startswith("SQLITE_READONLY") or (
            name.startswith("SQLITE_CANTOPEN") and file.exists())):
        if read_only_mount(file.parent):
            fix = "所在文件系统是只读挂载的）：请重新挂载为可写，或把数据库放到可写的磁盘上"
        else:
            fix = ("文件或所在文件夹不可写）：请让运行 mailintake 的用户能写这个文件和它所在的"
                   "文件夹，并去掉不可修改属性（chattr -i）")
        return f"数据库 {where} 无法写入（{fix}，然后重新运行（没有处理完的邮件仍留在收件箱）"
    line = next((text for prefix, text in _SQLITE if name.startswith(prefix)),
                "无法使用数据库 {where}（" + name + "）：请运行 mailintake doctor 检查；详情见日志")
    return line.format(where=where)




def database_transient(exc: BaseException) -> bool:
    """Whether time may mend a database error: a lock held, a server away or restarting
    (a full disk does not)."""
    orig = driver_error(exc)
    if orig is None:
        return False
    name = getattr(orig, "sqlite_errorname", None)
    if name is not None:
        return str(name).startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
    sqlstate = getattr(orig, "sqlstate", None)
    return type(exc).__name__ == "OperationalError" and sqlstate != "53100"
