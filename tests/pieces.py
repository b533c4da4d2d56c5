"""Pieces as correspondents send them, built in memory for the rules tests:
a Word file (python-docx) with its title, paragraphs, photos and captions,
wrapped in a mail from a registered correspondent.
"""

from __future__ import annotations

import email.policy
import io
import random
from email.message import EmailMessage
from email.utils import make_msgid

import docx
from docx.shared import Cm
from PIL import Image

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# Common characters of school news, so texts read as Chinese and each seed
# gives a different text (shingles of two seeds barely overlap).
POOL = (
    "学校教师学生开展活动组织召开会议工作推进落实安全教育课堂教学家长社区志愿服务读书"
    "运动体育艺术科技实验劳动党建培训交流研讨检查评比表彰总结部署要求提高能力质量水平"
    "发展特色品牌文化建设管理制度规范服务保障健康心理成长快乐阳光校园班级年级同学老师"
)

# The registered correspondents of fixtures/units.csv.
CHEN = "chenpei@126.com"  # 党政办公室
LIU = "liuxy@163.com"  # 组织部
ZHANG = "zhangkun@qq.com"  # 人文学院
LI = "lina@foxmail.com"  # 实验小学
WANG = "wangzhe@126.com"  # 城关镇中心校 and 城关镇东街小学
ZHAO = "zhaorong@126.com"  # 第一幼儿园


def chinese(length: int, seed: int) -> str:
    """``length`` Chinese characters, the same for the same seed."""
    rng = random.Random(seed)
    return "".join(rng.choice(POOL) for _ in range(length))


def photo(width: int, height: int, seed: int = 0) -> bytes:
    """A small JPEG of the given size."""
    colour = (seed * 47 % 256, seed * 91 % 256, 120)
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "JPEG", quality=60)
    return buffer.getvalue()


def word_file(
    title: str,
    paragraphs: list[str],
    pictures: tuple[tuple[int, int, str], ...] = (),
) -> bytes:
    """A .docx: the title, the paragraphs, then each picture with its caption
    (style "Caption"; an empty caption leaves the picture bare)."""
    document = docx.Document()
    if title:
        document.add_paragraph(title, style="Title")
    for text in paragraphs:
        document.add_paragraph(text)
    for index, (width, height, caption) in enumerate(pictures):
        document.add_picture(io.BytesIO(photo(width, height, index)), width=Cm(12))
        if caption:
            document.add_paragraph(caption, style="Caption")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def news(length: int, seed: int, pictures: int = 1) -> bytes:
    """A plain news piece of about ``length`` characters with captioned photos."""
    return word_file(
        "", [chinese(length, seed)],
        tuple((1600, 1200, f"图为活动现场{n + 1}") for n in range(pictures)),
    )


def weekly(seed: int, items: int = 3) -> bytes:
    """A weekly digest: items one by one, each with time, place and event."""
    lines = [
        f"{n}. 时间：11月{16 + n}日上午；地点：第一会议室；事件：{chinese(40, seed * 10 + n)}。"
        for n in range(1, items + 1)
    ]
    return word_file("", lines, ((800, 600, "图为会议现场"),))


def mail(
    sender: str,
    subject: str,
    *files: tuple[str, bytes],
    body: str = "老师好，稿件见附件，请审阅。",
) -> bytes:
    """A mail from ``sender`` carrying ``files`` (name, bytes) as attachments."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "xxbs@126.com"
    message["Subject"] = subject
    message["Date"] = "Thu, 19 Nov 2026 09:00:00 +0800"
    message["Message-ID"] = make_msgid(domain="example.test")
    message.set_content(body)
    for name, data in files:
        if name.endswith(".docx"):
            maintype, subtype = DOCX.split("/")
        else:
            maintype, subtype = "image", "jpeg"
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes(policy=email.policy.SMTP)


def piece_mail(sender: str, subject: str, document: bytes, *extra: tuple[str, bytes]) -> bytes:
    """A mail carrying one Word file named after the subject, as most clients send it."""
    return mail(sender, subject, (f"{subject[:40]}.docx", document), *extra)
