"""The pages' catalogues: every message the code and templates mark is translated, and the language is chosen well."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from engine.definitions import parse_published
from engine.forms import FormValidator, Wording
from web import i18n
from web.app import create_app
from web.pages.rendering import TEMPLATES

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdr]")
WALKED = ("web", "designer", "engine", "services")


def _marked() -> set[str | tuple[str, ...]]:
    """The messages scripts/translations extracts (web/locale/babel.cfg), as gettext ids."""
    with (ROOT / "web" / "locale" / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)

    def walked(path: str) -> bool:
        relative = Path(path).relative_to(ROOT).parts
        return not relative or (relative[0] in WALKED and "__pycache__" not in relative)

    found: set[str | tuple[str, ...]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, directory_filter=walked
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


@pytest.fixture(scope="module")
def chinese():
    with i18n.catalogue_path("zh").open("rb") as po:
        return read_po(po, locale="zh")


def test_every_marked_message_has_a_chinese_translation(chinese):
    marked = _marked()
    assert len(marked) > 800
    untranslated = []
    for message in sorted(marked, key=str):
        entry = chinese.get(message)
        text = entry.string if entry is not None else ""
        if not text or (isinstance(text, tuple) and not all(text)) or (entry is not None and entry.fuzzy):
            untranslated.append(message)
    assert not untranslated, "run scripts/translations and translate in web/locale/zh: " + repr(untranslated[:20])


def test_translations_keep_every_placeholder(chinese):
    wrong = []
    for entry in chinese:
        if not entry.id or not entry.string:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        texts = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = {name for text in ids for name in PLACEHOLDER.findall(text)}
        if any(set(PLACEHOLDER.findall(text)) != wanted for text in texts):
            wrong.append(entry.id)
    assert not wrong


def test_the_catalogue_compiles_and_english_is_the_code_itself():
    assert i18n.translations("zh").gettext("Inbox") == "收件箱"
    assert i18n.translations("zh").ngettext("%(num)d open task", "%(num)d open tasks", 3) == "%(num)d 个待办任务"
    assert i18n.translations("en").gettext("Inbox") == "Inbox"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("de-DE,de;q=0.9,zh;q=0.5,en;q=0.4", "zh"),
        ("zh-Hant-TW", "zh"),
        ("fr-FR, en;q=0.1", "en"),
        ("en;q=0, zh;q=0.2", "zh"),
        ("fr-FR,de", None),
        ("", None),
        (None, None),
        ("zh;q=abc", None),
    ],
)
def test_the_browser_language_is_the_best_of_ours_it_accepts(header, language):
    assert i18n.from_accept_language(header) == language


def test_every_template_compiles_with_the_i18n_extension():
    create_app()  # the designer adds its template folder
    names = [n for n in TEMPLATES.env.list_templates() if n.endswith(".html")]
    assert "pages/home.html" in names and "pages/definition_edit.html" in names
    for name in names:
        TEMPLATES.env.get_template(name)


def test_form_errors_on_a_chinese_page_use_the_forms_chinese_labels():
    form = parse_published((ROOT / "definitions" / "forms" / "order.yaml").read_text(encoding="utf-8"))
    document = {
        "channel": "phone",
        "external_id": "P-1",
        "customer": {"email": "not-an-address"},
        "shipping_address": {"street": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "Germany"},
        "lines": [{"sku": "MUG-LOGO", "qty": 0, "price": 9.5}],
    }
    validator = FormValidator(form)
    english = {e.field: e.message for e in validator.validate(document)[1]}
    # as web.i18n.form_wording() words them on a page in Chinese
    chinese = {
        e.field: e.message for e in validator.validate(document, Wording("zh", i18n.translations("zh").gettext))[1]
    }
    assert english == {
        "customer.name": "Customer name is required",
        "customer.email": "Email must be a valid email address",
        "shipping_address.country": "Shipping address: country must be a 2-letter country code",
        "lines[0].qty": "Line 1: quantity must be at least 1",
    }
    assert chinese == {
        "customer.name": "客户姓名为必填项",
        "customer.email": "电子邮箱必须是有效的电子邮箱地址",
        "shipping_address.country": "收货地址：国家必须是两个字母的国家代码",  # noqa: RUF001 (Chinese punctuation)
        "lines[0].qty": "行 1：数量不能小于 1",  # noqa: RUF001
    }
