"""What only a person can put right: the error every part raises for it, the exit
statuses, and the Chinese for what the operating system says.

This is the bottom layer of ``problems``: config, the store and the mailbox
raise ``Problem`` (already the administrator's line) and word a disk's
trouble with the helpers here; ``problems.explain`` turns any exception into
the one line the administrator sees.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

EXIT_FAILED = 1
EXIT_SETUP = 2
EXIT_MAILBOX = 3
EXIT_DATABASE = 4
EXIT_FILES = 5


class Problem(Exception):
    """An error whose message is already the administrator's line (Chinese)."""

    exit_code = EXIT_FAILED


REASONS = {
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
DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO)


def os_reason(exc: OSError) -> str:
    """The Chinese for an operating system error (its strerror is English)."""
    if isinstance(exc, TimeoutError) and exc.errno is None:
        return "超时"
    return REASONS.get(exc.errno or 0, f"系统错误 {exc.errno}")


def file_in_the_way(path: Path) -> Path:
    """The file that stands where ``path`` needs a folder (itself or an ancestor)."""
    for candidate in [path, *path.parents]:
        if candidate.exists() and not candidate.is_dir():
            return candidate
    return path


def disk_line(code: int | None, shown: str) -> str:
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
    return (f"读写 {shown}失败（{REASONS.get(code or 0, f'系统错误 {code}')}）："
            "请检查所在的磁盘；详情见日志")


#: Room on a disk below which a failed write is put down to the disk being full.
LOW_ROOM = 1024 * 1024


def room(path: Path) -> int:
    """Bytes this user may still write on the disk that holds ``path``."""
    found = os.statvfs(path)
    return found.f_bavail * found.f_frsize


def read_only_mount(path: Path) -> bool:
    """Whether ``path`` (or the nearest folder above it that exists) is on a read-only mount."""
    try:
        return bool(os.statvfs(existing(path)).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists."""
    return next(p for p in [path, *path.parents] if p.exists())
