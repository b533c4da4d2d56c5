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
# Sentences a news piece is made of; each mail draws its own from these, with
# its own people, numbers and places, so that like real pieces the texts
# share phrases but are not copies of each other (the duplicate check would
# rightly reject those, and look through every earlier one to do it).
OPENINGS = [
    "为进一步{goal}，{day}，{unit}{event}。",
    "{day}上午，{unit}在{place}{event}。",
    "近日，{unit}围绕“{theme}”主题{event}。",
    "为落实上级关于{theme}的工作部署，{unit}于{day}{event}。",
]
MIDDLES = [
    "{role}{name}作动员讲话，要求全体{people}{demand}。",
    "活动分为{n1}个环节，{people}{n2}余人参加，{detail}。",
    "{place}内，{people}们{detail}，现场气氛{mood}。",
    "本次活动由{dept}牵头组织，{dept2}全程参与，{detail}。",
    "{role}{name}结合{theme}，从{n1}个方面进行了解读，{demand}。",
    "在{place}，{people}{detail}，{n2}名家长代表应邀观摩。",
    "{dept}提前{n1}周制定方案，明确分工，{demand}。",
    "活动评选出优秀{award}{n1}名、{award2}{n2}名，{role}{name}为获奖者颁奖。",
]
CLOSINGS = [
    "下一步，{unit}将{plan}，推动{theme}工作走深走实。",
    "此次活动{effect}，为{goal}打下了坚实基础。",
    "{unit}表示，将以此为契机，{plan}。",
]
WORDS = {
    "goal": ["提升师生安全意识", "推进校园文化建设", "加强家校协同育人", "提高课堂教学质量",
             "丰富学生课余生活", "落实立德树人根本任务"],
    "day": ["11月17日", "11月12日", "11月15日", "11月10日", "11月18日"],
    "place": ["学校操场", "多功能报告厅", "图书馆", "科技馆", "体育馆", "阶梯教室"],
    "theme": ["平安校园", "书香校园", "双减", "劳动教育", "心理健康", "科学素养"],
    "role": ["校长", "副校长", "党支部书记", "教导主任", "德育处主任"],
    "name": ["王建国", "李红梅", "张伟", "刘芳", "陈静", "赵磊", "孙丽"],
    "people": ["师生", "教师", "学生", "班主任", "家长"],
    "demand": ["提高认识、压实责任", "珍惜机会、学以致用", "严守纪律、注重实效",
               "勇于创新、追求卓越"],
    "detail": ["认真聆听、积极互动", "分组讨论、轮流展示", "动手实践、合作探究",
               "有序疏散、规范操作"],
    "mood": ["热烈", "活跃", "温馨", "紧张有序"],
    "dept": ["德育处", "教务处", "总务处", "团委", "少先大队"],
    "dept2": ["各年级组", "班主任团队", "家委会", "校医室"],
    "award": ["作品", "选手", "班级", "小组"],
    "award2": ["组织奖", "优秀指导教师", "进步奖"],
    "plan": ["持续完善长效机制", "把活动成果转化为日常习惯", "总结经验、加强宣传",
             "扩大活动覆盖面"],
    "effect": ["取得了良好效果", "受到师生一致好评", "达到了预期目的"],
}


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


def _text(rng: random.Random, unit: str, event: str) -> str:
    """Five to seven paragraphs, 500 to 800 characters, drawn for this mail."""
    def fill(template: str) -> str:
        words = {key: rng.choice(choices) for key, choices in WORDS.items()}
        words |= {"unit": unit, "event": event, "n1": rng.randint(2, 9), "n2": rng.randint(20, 900)}
        return template.format(**words)

    paragraphs = [fill(rng.choice(OPENINGS))]
    middles = rng.choices(MIDDLES, k=rng.randint(9, 14))
    for start in range(0, len(middles), 3):
        paragraphs.append("".join(fill(m) for m in middles[start:start + 3]))
    paragraphs.append(fill(rng.choice(CLOSINGS)))
    return "\n".join(paragraphs)


def submission(n: int, *, tag: str = "bench", extra: bytes = b"") -> bytes:
    """Mail number ``n``: deterministic, distinct text and Message-ID.

    ``extra`` is attached as a video file (for the large-mail measurement).
    """
    rng = random.Random(n)
    name, addr, unit = SENDERS[n % len(SENDERS)]
    event = rng.choice(EVENTS)
    title = f"{unit}{event}（第{n}期）"
    text = _text(rng, unit, event) + f"\n本次活动编号{tag}-{n}。"
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
