"""Legacy Word (.doc), Kingsoft WPS (.wps) and RTF to .docx, with headless LibreOffice.

Each conversion runs in a temporary folder with a LibreOffice profile of its
own (two conversions sharing a profile block each other), under a fixed
file name (the mail's name is never a path), with a timeout after which the
whole process group is killed, and with caps on the size of any file it
writes (RLIMIT_FSIZE: a small .doc cannot fill the disk or the reader's
memory with a huge .docx) and on its private memory (RLIMIT_DATA: a 26 MB
RTF of text took LibreOffice to 1.1 GB; within the cap it fails in seconds,
while a 27 MB .doc of six photos converts as before). Without LibreOffice the caller gets
``document.legacy``, whose finding asks the correspondent for a .docx.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import olefile

TIMEOUT_SECONDS = 60
#: The largest .docx a conversion may write (a .doc within the attachment
#: limit makes a smaller one): LibreOffice is stopped by the kernel past it.
MAX_OUTPUT_BYTES = 40 * 1024 * 1024
#: LibreOffice's heap and other private memory at most (a conversion of a
#: usual .doc needs some 150 MB of it).
MAX_DATA_BYTES = 200 * 1024 * 1024
# Starts the program with its file size and data capped (limits are inherited
# by everything it starts), then becomes it.
_CAPPED = ("import os, resource, sys; "
           "resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]),) * 2); "
           "resource.setrlimit(resource.RLIMIT_DATA, (int(sys.argv[2]),) * 2); "
           "os.execv(sys.argv[3], sys.argv[3:])")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Word's FIB flag "fEncrypted" (offset 0x0A, bit 8) in the WordDocument stream.
_FIB_FLAGS, _F_ENCRYPTED = 0x0A, 0x0100


class ConvertError(Exception):
    """No .docx came out; ``code`` names the finding."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def soffice() -> str | None:
    """The LibreOffice program, if installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def ole_kind(data: bytes) -> str:
    """What an OLE compound file holds: "encrypted", "word", "other" or "corrupt".

    An encrypted .docx is not a zip but an OLE file with EncryptionInfo; an
    encrypted .doc sets a flag in its WordDocument stream.
    """
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            if ole.exists("EncryptionInfo") or ole.exists("EncryptedPackage"):
                return "encrypted"
            if ole.exists("WordDocument"):
                with ole.openstream("WordDocument") as stream:
                    fib = stream.read(_FIB_FLAGS + 2)
                flags = int.from_bytes(fib[_FIB_FLAGS:_FIB_FLAGS + 2], "little")
                return "encrypted" if flags & _F_ENCRYPTED else "word"
            return "other"
    except Exception:  # olefile on bytes from anyone: any failure means unreadable
        return "corrupt"


def to_docx(data: bytes, suffix: str, timeout: float = TIMEOUT_SECONDS) -> bytes:
    """The .docx LibreOffice makes of ``data`` (a file ending in ``suffix``)."""
    program = soffice()
    if program is None:
        raise ConvertError("document.legacy", "LibreOffice is not installed")
    with tempfile.TemporaryDirectory(prefix="mailintake-convert-") as folder:
        root = Path(folder)
        source = root / f"document{suffix if suffix in ('.doc', '.wps', '.rtf') else '.doc'}"
        source.write_bytes(data)
        command = [
            sys.executable, "-c", _CAPPED, str(MAX_OUTPUT_BYTES + 1), str(MAX_DATA_BYTES),
            program,
            f"-env:UserInstallation={(root / 'profile').as_uri()}",
            "--headless", "--norestore", "--nologo", "--nolockcheck", "--nodefault",
            "--convert-to", "docx:MS Word 2007 XML", "--outdir", str(root / "out"), str(source),
        ]
        _run(command, timeout, env={**os.environ, "HOME": folder})
        result = root / "out" / "document.docx"
        if result.is_file() and result.stat().st_size > MAX_OUTPUT_BYTES:
            # Stopped at the cap (LibreOffice mostly removes what it wrote: no .docx).
            raise ConvertError("document.too_large", "converted document over the limit")
        if not result.is_file():
            raise ConvertError("document.unconvertible", "LibreOffice wrote no .docx")
        return result.read_bytes()


def _run(command: list[str], timeout: float, env: dict[str, str]) -> None:
    # A session of its own, so a timeout kills soffice.bin too, not just the
    # shell script that started it.
    process = subprocess.Popen(  # noqa: S603 - a fixed program and our own paths
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, env=env, start_new_session=True,
    )
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired as exc:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise ConvertError("document.unconvertible", f"LibreOffice took over {timeout}s") from exc
