"""Every reason a mail or a piece can be given has words a clerk reads."""

from __future__ import annotations

import re
from pathlib import Path

import mailintake.intake.held
import mailintake.reading.fromline
import mailintake.rules
from mailintake.rules import reasons

PREFIXES = ("auto", "content", "document", "duplicate", "length", "limits", "list", "loop",
            "parse", "picture", "pictures", "sender", "subject", "from", "reply", "forwarded",
            "internal", "clerk")
CODE = re.compile(r"""["']((?:""" + "|".join(PREFIXES) + r""")\.[a-z_]+)["']""")


def codes_in(*modules: Path) -> set[str]:
    found: set[str] = set()
    for path in modules:
        found |= set(CODE.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_code_the_rules_give_has_chinese_words() -> None:
    rules = Path(mailintake.rules.__file__).parent
    sources = [*rules.glob("*.py"), Path(mailintake.reading.fromline.__file__),
               Path(mailintake.intake.held.__file__)]
    codes = codes_in(*sources)
    assert len(codes) > 40
    missing = sorted(code for code in codes if code not in reasons.LABELS)
    assert missing == []


def test_a_clerk_reads_words_each_kind_once() -> None:
    assert reasons.labels(["sender.forged", "from.malformed"]) == (
        "发件人地址可疑（可能伪造）、发件人行格式错误")
    assert reasons.labels(["pictures.too_few", "pictures.too_few"]) == "图片数量不足"
    assert reasons.label("something.new") == "其他原因"
    assert reasons.label("附件名过长") == "附件名过长"
