"""Reply templates a clerk edits: mistakes are caught when mailintake starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_config

from mailintake.cli.main import main
from mailintake.office.samples import SAMPLES, load_replies
from mailintake.replies.render import DEFAULT_TEMPLATES, TemplateProblem

SENDER = "教育信息报送 <xxbs@126.com>"


def edited(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """A templates folder holding one shipped template with ``old`` replaced by ``new``."""
    folder = tmp_path / "templates"
    folder.mkdir(exist_ok=True)
    text = (DEFAULT_TEMPLATES / name).read_text(encoding="utf-8")
    assert old in text
    (folder / name).write_text(text.replace(old, new), encoding="utf-8")
    return folder


def test_every_shipped_template_renders_its_samples() -> None:
    """Each reply template ships, starts with its Subject line and renders in Chinese."""
    replies = load_replies(None, SENDER)
    assert set(SAMPLES) <= set(replies.names)
    for name, samples in SAMPLES.items():
        for sample in samples():
            subject, body = replies.render(name, sample)
            assert subject.startswith("【") and body.strip()
    for name in ("receipt", "rejection", "oversize", "unregistered"):
        body = replies.render(name, SAMPLES[name]()[0])[1]
        assert "李娜老师：您好！" in body and "请勿直接回复" in body


@pytest.mark.parametrize(("old", "new", "problem"), [
    ("{% if warnings %}", "{% if warnings %", "receipt.txt.j2 第"),
    ("{{ submission.tracking_no }}", "{{ submision.tracking_no }}", "不存在的变量"),
    ("{{ office_name }}", "{{ office_name | nosuchfilter }}", "receipt.txt.j2 第"),
])
def test_a_broken_template_is_reported_at_start_naming_the_file(
    tmp_path: Path, old: str, new: str, problem: str
) -> None:
    """A syntax error or a misspelt variable stops start-up, naming the file, before any reply."""
    folder = edited(tmp_path, "receipt.txt.j2", old, new)
    with pytest.raises(TemplateProblem, match=problem) as caught:
        load_replies(folder, SENDER)
    assert "receipt.txt.j2" in str(caught.value)


def test_a_clerk_edits_one_template_and_the_others_stay_shipped(tmp_path: Path) -> None:
    """A templates folder with only the receipt changes the receipt and nothing else."""
    folder = edited(tmp_path, "receipt.txt.j2", "谢谢支持。", "谢谢支持，本周请继续报送。")
    replies = load_replies(folder, SENDER)
    [receipt] = SAMPLES["receipt"]()
    assert "本周请继续报送" in replies.render("receipt", receipt)[1]
    rejection = SAMPLES["rejection"]()[0]
    assert "未能登记" in replies.render("rejection", rejection)[1]


def test_a_template_edited_between_two_starts_is_used_at_the_second(tmp_path: Path) -> None:
    """Compiled templates are kept between starts, by their text: an edit is never
    answered with the compiled copy of the text before."""
    folder = edited(tmp_path, "receipt.txt.j2", "谢谢支持。", "谢谢支持，第一版。")
    [receipt] = SAMPLES["receipt"]()
    assert "第一版" in load_replies(folder, SENDER).render("receipt", receipt)[1]
    path = folder / "receipt.txt.j2"
    path.write_text(path.read_text(encoding="utf-8").replace("第一版", "第二版"), encoding="utf-8")
    assert "第二版" in load_replies(folder, SENDER).render("receipt", receipt)[1]


def test_the_command_line_refuses_to_start_with_a_broken_template(tmp_path: Path) -> None:
    """`mailintake poll --once` with a broken template exits 2 with the problem in Chinese."""
    folder = edited(tmp_path, "rejection.txt.j2", "{{ sender_name }}", "{{ sender_nam }}")
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}",
                          extra="").read_text(encoding="utf-8")
    path = tmp_path / "mailintake.toml"
    path.write_text(f'templates_dir = "{folder}"\n' + config, encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(path), "poll", "--once"])
    assert result.exit_code == 2
    assert "rejection.txt.j2" in result.output and "不存在的变量" in result.output
