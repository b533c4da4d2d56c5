"""Realistic submissions for the benchmark: a website piece (网站信息) whose Word
file holds two photos with captions, plus two 1600×1200 photos attached;
about 300 KB each. Every mail has its own Message-ID and its own text, sent by
a registered correspondent of ``fixtures/units.csv`` for one of their units.
"""

from __future__ import annotations

import io
import random
import sys
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cache
from pathlib import Path

from docx import Document
from docx.shared import Cm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fixtures"))
from make_fixtures import FIXED_TIME, make_photo  # noqa: E402  (fixtures is not a package)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SENDERS = [
    ("刘晓燕", "liuxy@163.com", "组织部"),
    ("陈佩", "chenpei@126.com", "党政办公室"),
    ("张堃", "zhangkun@qq.com", "人文学院"),
    ("李娜", "lina@foxmail.com", "实验小学"),
    ("王喆", "wangzhe@126.com", "城关镇东街小学"),
]
EVENTS = ["开展冬季消防安全演练", "举办教师教学能力大赛", "召开家长委员会会议",
          "开展校园读书节活动", "组织学生参观科技馆", "举办秋季趣味运动会"]
SENTENCE = ("活动中，师生积极参与、认真准备，现场气氛热烈。学校高度重视此项工作，"
            "提前制定方案，明确分工，确保各环节有序开展。")


@cache
def _photo(width: int, height: int, seed: int) -> bytes:
    return make_photo(width, height, f"bench-photo-{seed}")


def _docx(title: str, text: str, photos: list[tuple[bytes, str]]) -> bytes:
    doc = Document()
    doc.add_paragraph(title, style="Title")
    for paragraph in text.split("\n"):
        doc.add_paragraph(paragraph)
    for photo, caption in photos:
        doc.add_picture(io.BytesIO(photo), width=Cm(14))
        doc.add_paragraph(caption, style="Caption")
    props = doc.core_properties
    props.created = props.modified = FIXED_TIME
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def submission(n: int, *, tag: str = "bench", extra: bytes = b"") -> bytes:
    """Mail number ``n``: deterministic, distinct text and Message-ID.

    ``extra`` is attached as a video file (for the large-mail measurement).
    """
    rng = random.Random(n)
    name, addr, unit = SENDERS[n % len(SENDERS)]
    event = rng.choice(EVENTS)
    title = f"{unit}{event}（第{n}期）"
    sentences = [f"11月17日，{unit}{event}，第{n}期共有{rng.randint(50, 900)}名师生参加。"]
    sentences += [SENTENCE] * rng.randint(3, 5)
    text = "".join(sentences) + f"\n本次活动编号{tag}-{n}，各项工作取得良好效果。"
    inside = [(_photo(800, 600, n % 7), "图为活动现场"),
              (_photo(800, 600, n % 7 + 7), "图为师生合影")]
    msg = EmailMessage()
    msg["From"] = f"{name} <{addr}>"
    msg["To"] = "教育信息报送 <xxbs@126.com>"
    msg["Subject"] = f"{unit}信息（2026.11.18）{title}"
    msg["Date"] = format_datetime(FIXED_TIME)
    msg["Message-ID"] = f"<{tag}-{n}@bench.example.test>"
    msg.set_content(f"老师好：\n    现报送{unit}信息一则，请审核。\n\n{name}\n")
    msg.add_attachment(_docx(title, text, inside), maintype="application",
                       subtype=DOCX.split("/")[1], filename=f"{title}.docx")
    for k in range(2):
        msg.add_attachment(_photo(1600, 1200, n % 5 + 20 + k), maintype="image",
                           subtype="jpeg", filename=f"现场照片{k + 1}.jpg")
    if extra:
        msg.add_attachment(extra, maintype="video", subtype="mp4", filename="活动视频.mp4")
    return bytes(msg)
