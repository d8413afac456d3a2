"""The designer scripts' messages: every one the scripts write is in the catalogue's list, and a Chinese reader
gets them in Chinese (designer/js_text.py, frontend/src/text.js)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from designer.js_text import MESSAGES, PLURALS, script_text, server_words
from web import i18n

SOURCES = Path(__file__).resolve().parents[2] / "frontend" / "src"
SCRIPTS = ("editor.js", "diagram.js", "flow_editor.js", "builder.js", "table_grid.js", "dom.js")
LITERAL = r'"((?:[^"\\]|\\.)*)"'


def _written() -> tuple[set[str], set[tuple[str, str]]]:
    singles: set[str] = set()
    plurals: set[tuple[str, str]] = set()
    for name in SCRIPTS:
        text = (SOURCES / name).read_text(encoding="utf-8")
        plurals |= {
            (json.loads(f'"{a}"'), json.loads(f'"{b}"'))
            for a, b in re.findall(rf"\btn\(\s*{LITERAL}\s*,\s*{LITERAL}", text)
        }
        singles |= {json.loads(f'"{m}"') for m in re.findall(rf"\bt\(\s*{LITERAL}", text)}
    return singles, plurals


def test_every_message_the_scripts_write_is_listed_for_the_catalogue_and_no_other():
    singles, plurals = _written()
    assert len(singles) > 150
    assert singles - set(MESSAGES) == set(), "add them to designer/js_text.py MESSAGES"
    assert set(MESSAGES) - singles == set(), "no script writes these any more: take them out of MESSAGES"
    assert plurals == set(PLURALS)


def test_the_scripts_use_the_one_helper_for_their_text():
    for name in SCRIPTS:
        text = (SOURCES / name).read_text(encoding="utf-8")
        assert 'from "./text.js"' in text, name


@pytest.fixture
def chinese():
    token = i18n._choice.set(i18n._Choice("zh"))
    yield
    i18n._choice.reset(token)


def test_a_chinese_reader_gets_every_script_message_and_server_word_in_chinese(chinese):
    text = script_text()
    assert text["The definition is valid."] == "定义有效。"
    assert text["Carrier table"] == "承运商决策表"
    assert text["%(num)d problem found."] == text["%(num)d problems found."] != "%(num)d problems found."
    assert text["is more than"] == "大于"
    assert text["A person decides (a task in the inbox): approve or reject."] != ""
    untranslated = [
        m
        for m in (*MESSAGES, *server_words())
        if text[m] == m and re.search(r"[A-Za-z]{3}", re.sub(r"%\(\w+\)[sd]", "", m))
    ]
    assert untranslated == []


def test_an_english_reader_gets_the_scripts_own_text():
    assert script_text() == {}
