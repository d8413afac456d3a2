"""Manual order entry: the live form of a channel's flow as an HTML page.

GET /orders/new?channel=phone shows the form; POST /orders/new either redraws
it (add or remove a table row, switch channel, or the form's own errors beside
each field, with 422) or hands the order to ``services.orders.intake.submit_order``, the
same checks and the same workflow start as the API, and goes to the order page.

The page works without JavaScript: rows are added and removed by server round
trips, and every value comes back as it was typed. Nothing the browser sends
is trusted: only names the form knows are read, types are converted here and
checked by the form's validator, the channel must be a published one.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as attribute
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request
from sqlmodel import Session, select

from engine.definitions import parse_published
from engine.expressions import ExpressionError, compile_expression
from engine.form_messages import ENGLISH
from engine.forms import Field, FieldError, Form, FormValidator
from oms.db import get_read_engine
from oms.models import DefinitionVersion
from services.definitions.publishing import latest
from services.orders.intake import IntakeRejected, IntakeUnavailable, submit_order
from web import i18n
from web.deps import CurrentUser, StarterDep, TemporalDep
from web.errors import status_for
from web.i18n import gettext
from web.pages.flash import Flash
from web.pages.rendering import PageRoute, redirect, render
from web.pages.security import ACTING_ROLES, FormUser, PageRefused, SignedIn

router = APIRouter(route_class=PageRoute, include_in_schema=False)

DEFAULT_CHANNEL = "phone"
# Fields the page fills itself: the channel select at the top, the generated id.
CHANNEL_FIELD, EXTERNAL_ID_FIELD = "channel", "external_id"
NUMERIC = {"number", "integer", "money"}
CONTAINERS = {"group", "address"}
MAX_ROWS = 500  # when a table sets no max_rows; Starlette reads at most 1000 fields anyway


# ---- which form: channel -> flow -> live form version -------------------------


@dataclass(frozen=True)
class Setup:
    """The channels one may pick and the live form of the chosen one."""

    channels: tuple[tuple[str, str], ...]  # (name, title), by name
    channel: str  # the channel whose form is shown
    form: Form
    form_version: int
    unknown: str | None = None  # the channel asked for when it is not published


def _published_channels(session: Session) -> dict[str, Any]:
    names = session.exec(select(DefinitionVersion.name).where(DefinitionVersion.kind == "channel").distinct()).all()
    return {name: parse_published(latest(session, "channel", name).body) for name in sorted(names)}


def load_setup(requested: str) -> Setup:
    """The form for ``requested`` (or the default channel's when that is not published)."""
    with Session(get_read_engine()) as session:
        channels = _published_channels(session)
        if not channels:
            raise PageRefused(404, gettext("No channel is published, so there is no order form to fill in."))
        chosen = (
            requested
            if requested in channels
            else (DEFAULT_CHANNEL if DEFAULT_CHANNEL in channels else next(iter(channels)))
        )
        flow_name = channels[chosen].flow
        flow_row = latest(session, "flow", flow_name)
        flow = parse_published(flow_row.body) if flow_row else None
        form_row = latest(session, "form", flow.form) if flow is not None and flow.form else None
        if form_row is None:
            raise PageRefused(
                404,
                gettext(
                    "Channel %(channel)r runs flow %(flow)r, which has no published form to enter orders with.",
                    channel=chosen,
                    flow=flow_name,
                ),
            )
        return Setup(
            channels=tuple((name, channel.title) for name, channel in channels.items()),
            channel=chosen,
            form=parse_published(form_row.body),
            form_version=form_row.version,
            unknown=requested if requested and requested != chosen else None,
        )


def generated_external_id(channel: str) -> str:
    return f"{channel.upper()}-{uuid.uuid4().hex[:10].upper()}"


_GENERATED = re.compile(r"^[A-Z0-9_]+-[0-9A-F]{10}$")


# ---- what was typed: input name -> text ---------------------------------------


def child(prefix: str, field_id: str) -> str:
    return f"{prefix}.{field_id}" if prefix else field_id


def row_name(table: str, index: int) -> str:
    return f"{table}[{index}]"


def _text_of_default(field: Field) -> str:
    if field.default is None or field.default is False:
        return ""
    return "on" if field.default is True else str(field.default)


@dataclass
class Entry:
    """The page's inputs as typed (checkbox: ``on``), by input name, and the rows each table shows.

    Names are the paths FieldError uses: ``customer.name``, ``lines[1].qty``.
    """

    values: dict[str, str] = attribute(default_factory=dict)
    rows: dict[str, int] = attribute(default_factory=dict)

    @classmethod
    def blank(cls, form: Form) -> Entry:
        """A fresh form: defaults filled in, one row per table (or its minimum)."""
        entry = cls()
        _fill_defaults(form.fields, "", entry)
        return entry

    @classmethod
    def read(cls, form: Form, data: Mapping[str, Any]) -> Entry:
        """The inputs ``form`` knows, from submitted form data; rows are numbered 0, 1, 2... again."""
        entry = cls()
        _read(form.fields, "", "", data, entry)
        return entry

    def document(self, form: Form) -> dict:
        """The nested document: numbers converted where they parse, blanks left out.

        Text that is no number stays text, so the form's validator names the problem.
        """
        return _build(form.fields, "", self)

    def add_row(self, table: str, limit: int) -> int | None:
        """Append an empty row; its index, or None at the table's limit."""
        count = self.rows.get(table, 0)
        if count >= limit:
            return None
        self.rows[table] = count + 1
        return count

    def remove_row(self, table: str, index: int) -> None:
        """Drop row ``index``; the rows below move up one."""
        count = self.rows.get(table, 0)
        if not 0 <= index < count:
            return
        self._drop_prefix(row_name(table, index))
        for later in range(index + 1, count):
            self._rename_prefix(row_name(table, later), row_name(table, later - 1))
        self.rows[table] = count - 1

    def without_blank_rows(self, form: Form) -> Entry:
        """A copy without the table rows nobody typed into (a spare empty line is no line).

        A table keeps its minimum number of rows, blank or not.
        """
        entry = Entry(dict(self.values), dict(self.rows))
        _drop_blank_rows(form.fields, "", entry)
        return entry

    def names_under(self, prefix: str) -> Iterable[str]:
        return [k for k in list(self.values) + list(self.rows) if k.startswith((prefix + ".", prefix + "["))]

    def _drop_prefix(self, prefix: str) -> None:
        for key in self.names_under(prefix):
            self.values.pop(key, None)
            self.rows.pop(key, None)

    def _rename_prefix(self, old: str, new: str) -> None:
        for key in self.names_under(old):
            renamed = new + key[len(old) :]
            if key in self.values:
                self.values[renamed] = self.values.pop(key)
            if key in self.rows:
                self.rows[renamed] = self.rows.pop(key)


def _fill_defaults(fields: tuple[Field, ...], prefix: str, entry: Entry) -> None:
    for field in fields:
        name = child(prefix, field.id)
        if field.type in CONTAINERS:
            _fill_defaults(field.fields, name, entry)
        elif field.type == "table":
            entry.rows[name] = max(field.min_rows or 1, 1)
            for index in range(entry.rows[name]):
                _fill_defaults(field.columns, row_name(name, index), entry)
        elif text := _text_of_default(field):
            entry.values[name] = text


def _submitted(data: Mapping[str, Any], name: str) -> str | None:
    values = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)]
    return next((v for v in values if isinstance(v, str)), None)  # files and the like are no text


def _row_indices(data: Mapping[str, Any], table: str, limit: int) -> list[int]:
    pattern = re.compile(re.escape(table) + r"\[(\d{1,6})\][.\[]")
    found = {int(m.group(1)) for key in data if (m := pattern.match(key))}
    return sorted(found)[:limit]


def _read(fields: tuple[Field, ...], into: str, source: str, data: Mapping[str, Any], entry: Entry) -> None:
    for field in fields:
        name, sent_as = child(into, field.id), child(source, field.id)
        if field.type in CONTAINERS:
            _read(field.fields, name, sent_as, data, entry)
        elif field.type == "table":
            # one row over the limit is read, so that the validator says "at most"
            indices = _row_indices(data, sent_as, (field.max_rows or MAX_ROWS) + 1)
            entry.rows[name] = len(indices)
            for index, sent_index in enumerate(indices):
                _read(field.columns, row_name(name, index), row_name(sent_as, sent_index), data, entry)
        elif (value := _submitted(data, sent_as)) is not None:
            entry.values[name] = value


def _row_is_blank(columns: tuple[Field, ...], prefix: str, entry: Entry) -> bool:
    for column in columns:
        name = child(prefix, column.id)
        if column.type in CONTAINERS or column.type == "table":
            if any(entry.values[k].strip() for k in entry.names_under(name) if k in entry.values):
                return False
        elif (text := entry.values.get(name, "").strip()) and text != _text_of_default(column):
            return False
    return True


def _drop_blank_rows(fields: tuple[Field, ...], prefix: str, entry: Entry) -> None:
    for field in fields:
        name = child(prefix, field.id)
        if field.type in CONTAINERS:
            _drop_blank_rows(field.fields, name, entry)
        elif field.type == "table":
            for index in reversed(range(entry.rows.get(name, 0))):
                # below the minimum a blank row stays, so its errors show in its cells
                spare = entry.rows[name] > (field.min_rows or 0)
                if spare and _row_is_blank(field.columns, row_name(name, index), entry):
                    entry.remove_row(name, index)
            for index in range(entry.rows.get(name, 0)):
                _drop_blank_rows(field.columns, row_name(name, index), entry)


def _number(field: Field, text: str) -> Any:
    if field.type == "integer" and re.fullmatch(r"[+-]?\d{1,18}", text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return text
    if number != number or number in (float("inf"), float("-inf")):
        return text  # nan and infinity: the validator says "must be a number"
    return int(number) if field.type == "integer" and number.is_integer() else number


def _build(fields: tuple[Field, ...], prefix: str, entry: Entry) -> dict:
    document: dict[str, Any] = {}
    for field in fields:
        name = child(prefix, field.id)
        if field.type in CONTAINERS:
            # An untouched optional group stays absent; a required one is sent empty, so
            # the errors name its parts ("Shipping address: street is required") beside them.
            part = _build(field.fields, name, entry)
            if part or field.required:
                document[field.id] = part
        elif field.type == "table":
            rows = range(entry.rows.get(name, 0))
            document[field.id] = [_build(field.columns, row_name(name, i), entry) for i in rows]
        elif field.type == "boolean":
            document[field.id] = entry.values.get(name, "").strip().lower() in ("on", "true", "1", "yes")
        elif text := entry.values.get(name, "").strip():
            document[field.id] = _number(field, text) if field.type in NUMERIC else text
    return document


# ---- conditions the browser may show and hide (the server decides) -------------

_LITERAL = r"'[^'\\]*'|\"[^\"\\]*\"|true|false|-?\d+(?:\.\d+)?"
_SIMPLE = re.compile(
    rf"^\s*(?P<name>[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)\s*(?P<op>==|!=|not in|in)\s*"
    rf"(?P<value>{_LITERAL}|\[\s*(?:{_LITERAL})(?:\s*,\s*(?:{_LITERAL}))*\s*\])\s*$"
)


def _literal(text: str) -> Any:
    text = text.strip()
    if text[0] in "'\"":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    return float(text) if "." in text else int(text)


def simple_condition(text: str) -> dict | None:
    """``customer.type == 'b2b'`` as data a small script can check; None when it is not that simple."""
    match = _SIMPLE.match(text)
    if not match:
        return None
    raw = match["value"]
    values = [_literal(v) for v in re.findall(_LITERAL, raw[1:-1])] if raw.startswith("[") else [_literal(raw)]
    return {"name": match["name"], "values": values, "negate": match["op"] in ("!=", "not in")}


def _field_at(fields: tuple[Field, ...], path: str) -> Field | None:
    field = None
    for part in path.split("."):
        field = next((f for f in fields if f.id == part), None)
        if field is None:
            return None
        fields = field.fields
    return field


def _shown(expression: str, document: dict) -> bool:
    try:
        return compile_expression(expression).is_true(document)
    except ExpressionError:
        return True  # as the validator does: when in doubt, the field counts


# ---- what the template draws ---------------------------------------------------


def dom_id(name: str, kind: str = "f") -> str:
    """``lines[0].qty`` -> ``f-lines-0-qty``: ids without characters CSS selectors must escape."""
    return f"{kind}-" + re.sub(r"[^A-Za-z0-9_]+", "-", name).strip("-")


def say(text: Mapping[str, str] | None, lang: str) -> tuple[str, str | None]:
    """The text in ``lang`` if the definition has it, else English; and its lang attribute."""
    if not text:
        return "", None
    if lang != "en" and text.get(lang):
        return text[lang], lang
    return text.get("en") or next(iter(text.values()), ""), None


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass
class Widget:
    """One field on the page: a control, a fieldset of parts, or a table of rows."""

    field: Field
    name: str
    id: str
    label: str
    label_lang: str | None
    control: str  # input | checkbox | select | fieldset | table
    required: bool
    value: str = ""
    help: str = ""
    help_lang: str | None = None
    attrs: dict[str, Any] = attribute(default_factory=dict)
    options: list[tuple[str, str, str | None]] = attribute(default_factory=list)  # value, label, lang
    blank_option: bool = False
    children: list[Widget] = attribute(default_factory=list)
    rows: list[Row] = attribute(default_factory=list)
    columns: list[tuple[str, str | None, bool]] = attribute(default_factory=list)  # label, lang, required
    can_add: bool = False
    add_label: str = ""
    add_action: str = ""
    errors: list[str] = attribute(default_factory=list)
    in_row: bool = False  # a table cell: the label is for screen readers only
    condition: str = ""  # JSON for entry.js
    condition_note: str = ""
    inapplicable: bool = False
    autofocus: bool = False

    @property
    def help_id(self) -> str:
        return dom_id(self.name, "h")

    @property
    def error_id(self) -> str:
        return dom_id(self.name, "e")

    @property
    def described_by(self) -> str:
        return " ".join(i for i, present in ((self.error_id, self.errors), (self.help_id, self.help)) if present)

    @property
    def target(self) -> str:
        """Where the error summary's link goes: the control, or the first control inside."""
        if self.control in ("fieldset", "table"):
            inner = list(self.children) + [c for row in self.rows for c in row.cells]
            return inner[0].target if inner else self.id
        return self.id


@dataclass
class Row:
    label: str
    cells: list[Widget]
    remove_action: str
    remove_label: str


@dataclass
class Page:
    widgets: list[Widget]
    summary: list[tuple[str, str | None]]  # message, link target id
    channel_errors: list[str]

    @property
    def blocks(self) -> list[tuple[bool, list[Widget]]]:
        """Top-level widgets, neighbouring single fields together (True) to share a grid."""
        blocks: list[tuple[bool, list[Widget]]] = []
        for widget in self.widgets:
            single = widget.control not in ("fieldset", "table")
            if single and blocks and blocks[-1][0]:
                blocks[-1][1].append(widget)
            else:
                blocks.append((single, [widget]))
        return blocks


INPUT_TYPES = {
    "text": "text",
    "email": "email",
    "phone": "tel",
    "number": "number",
    "integer": "number",
    "money": "number",
    "date": "date",
}
STEPS = {"number": "any", "integer": "1", "money": "0.01"}
INPUT_MODES = {"number": "decimal", "integer": "numeric", "money": "decimal"}


class _Builder:
    def __init__(self, form: Form, entry: Entry, lang: str, focus: str | None):
        self.form, self.entry, self.lang, self.focus = form, entry, lang, focus
        self.document = entry.document(form)
        self.by_name: dict[str, Widget] = {}

    def widgets(self, fields: Iterable[Field], prefix: str, in_row: bool = False, row_text: str = "") -> list[Widget]:
        return [self.widget(f, child(prefix, f.id), in_row, row_text) for f in fields]

    def widget(self, field: Field, name: str, in_row: bool, row_text: str) -> Widget:
        label, label_lang = say(field.label, self.lang)
        help_text, help_lang = say(field.help, self.lang)
        widget = Widget(
            field,
            name,
            dom_id(name),
            _capital(label),
            label_lang,
            "input",
            field.required,
            help=help_text,
            help_lang=help_lang,
            in_row=in_row,
            autofocus=name == self.focus,
        )
        if in_row:
            widget.label = f"{row_text}: {label}"
        if field.visible_if:
            self._condition(widget, field.visible_if)
        if field.type in CONTAINERS:
            widget.control = "fieldset"
            widget.children = self.widgets(field.fields, name)
        elif field.type == "table":
            self._table(widget, field, name)
        else:
            self._control(widget, field, name)
        self.by_name[name] = widget
        return widget

    def _control(self, widget: Widget, field: Field, name: str) -> None:
        widget.value = self.entry.values.get(name, "")
        if field.type == "boolean":
            widget.control = "checkbox"
        elif field.type == "select":
            widget.control = "select"
            widget.options = [(value, *say(label, self.lang)) for value, label in field.options]
            widget.blank_option = field.default is None
        else:
            attrs = {
                "type": INPUT_TYPES[field.type],
                "step": STEPS.get(field.type),
                "inputmode": INPUT_MODES.get(field.type),
                "min": field.minimum,
                "max": field.maximum,
                "maxlength": field.max_length,
            }
            widget.attrs = {k: _attr(v) for k, v in attrs.items() if v is not None}

    def _table(self, widget: Widget, field: Field, name: str) -> None:
        row_label, _ = say(field.row_label, self.lang)
        widget.control = "table"
        for column in field.columns:
            text, lang = say(column.label, self.lang)
            widget.columns.append((_capital(text), lang, column.required))
        count = max(self.entry.rows.get(name, 0), 1)  # an empty table still offers one row to type into
        for index in range(count):
            text = f"{row_label} {index + 1}"
            cells = self.widgets(field.columns, row_name(name, index), in_row=True, row_text=text)
            widget.rows.append(
                Row(text, cells, f"remove_row:{name}:{index}", gettext("Remove %(row)s", row=text.lower()))
            )
        widget.can_add = count < (field.max_rows or MAX_ROWS)
        widget.add_label = gettext("Add %(row)s", row=row_label.lower())
        widget.add_action = f"add_row:{name}"

    def _condition(self, widget: Widget, expression: str) -> None:
        simple = simple_condition(expression)
        if simple is not None:
            about = _field_at(self.form.fields, simple["name"])
            if about is not None:
                simple["default"] = _text_of_default(about)
                label = _capital(say(about.label, self.lang)[0])
                names = {value: say(text, self.lang)[0] for value, text in about.options}
                values = gettext(" or ").join(
                    names.get(v, str(v)) if isinstance(v, str) else json.dumps(v) for v in simple["values"]
                )
                if simple["negate"]:
                    note = gettext("Only used when %(field)s is not %(values)s.", field=label, values=values)
                else:
                    note = gettext("Only used when %(field)s is %(values)s.", field=label, values=values)
                widget.condition_note = note
                widget.condition = json.dumps(simple, ensure_ascii=False)
        if not widget.condition_note:
            widget.condition_note = gettext("Only used when %(condition)s.", condition=expression)
        widget.inapplicable = not _shown(expression, self.document)


def _attr(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _parent(name: str) -> str | None:
    match = re.match(r"^(.*)(?:\.[^.\[\]]+|\[\d+\])$", name)
    return match.group(1) if match and match.group(1) else None


def build_page(
    form: Form,
    entry: Entry,
    lang: str = "en",
    errors: Iterable[FieldError] = (),
    focus: str | None = None,
    hints: Mapping[str, str] | None = None,
) -> Page:
    """The widgets of ``form`` showing ``entry``, each error beside its field and listed in the summary.

    ``hints`` are help texts of the page's own for fields whose definition has none.
    """
    builder = _Builder(form, entry, lang, focus)
    widgets = builder.widgets((f for f in form.fields if f.id != CHANNEL_FIELD), "")
    for name, hint in (hints or {}).items():
        if name in builder.by_name and not builder.by_name[name].help:
            builder.by_name[name].help = hint
    summary: list[tuple[str, str | None]] = []
    channel_errors: list[str] = []
    for error in errors:
        if error.field == CHANNEL_FIELD:
            channel_errors.append(error.message)
            summary.append((error.message, dom_id(CHANNEL_FIELD)))
            continue
        name: str | None = error.field
        while name and name not in builder.by_name:
            name = _parent(name)  # "lines[1]" is about the table "lines"
        if name:
            builder.by_name[name].errors.append(error.message)
        summary.append((error.message, builder.by_name[name].target if name else None))
    return Page(widgets, summary, channel_errors)


def in_page_language(form: Form, document: Any, errors: Iterable[FieldError]) -> list[FieldError]:
    """``errors`` worded in the page's language: the form's own, again through its validator; others as they came."""
    wording = i18n.form_wording()
    errors = list(errors)
    if wording is ENGLISH or not errors:
        return errors
    _, worded = FormValidator(form).validate(document, wording)
    by_field = {error.field: error for error in worded}
    return [by_field.get(error.field, error) for error in errors]


def languages(form: Form) -> list[str]:
    """Languages the form's labels are written in besides English."""
    found: set[str] = set(form.title)

    def visit(fields: tuple[Field, ...]) -> None:
        for field in fields:
            found.update(field.label)
            for _, label in field.options:
                found.update(label)
            visit(field.fields + field.columns)

    visit(form.fields)
    return sorted(found - {"en"})


# ---- routes ----------------------------------------------------------------------

HINTS = {EXTERNAL_ID_FIELD: i18n.N_("Made up for you; replace it with the order's own number if it has one.")}
# Each language in its own words, and in English for whoever's screen lacks the script.
LANGUAGE_NAMES = {
    "en": "English",
    "zh": "中文 (Chinese)",
    "de": "Deutsch (German)",
    "fr": "Français (French)",
    "es": "Español (Spanish)",
    "ja": "日本語 (Japanese)",
}


def _may_enter(user: CurrentUser) -> CurrentUser:
    if not user.has(*ACTING_ROLES):
        raise PageRefused(
            403,
            gettext("Role %(role)r cannot enter orders; manual order entry needs operator or admin.", role=user.role),
        )
    return user


def may_enter(user: SignedIn) -> CurrentUser:
    """A signed-in operator or admin (the page itself)."""
    return _may_enter(user)


def entering(user: FormUser) -> CurrentUser:
    """An operator or admin whose form carries a valid CSRF token."""
    return _may_enter(user)


def _lang(value: Any) -> str:
    """The language of the form's labels: the one asked for, else the page's own."""
    return value if isinstance(value, str) and re.fullmatch(r"[a-z]{2,3}", value) else i18n.language()


def _show(
    request: Request,
    setup: Setup,
    entry: Entry,
    lang: str,
    errors: Iterable[FieldError] = (),
    focus: str | None = None,
    status_code: int = 200,
    notice: str = "",
):
    errors = list(errors)
    if setup.unknown is not None and not any(e.field == CHANNEL_FIELD for e in errors):
        known = ", ".join(name for name, _ in setup.channels)
        unknown = gettext("unknown channel %(channel)r; channels are: %(known)s", channel=setup.unknown, known=known)
        errors.insert(0, FieldError(CHANNEL_FIELD, unknown))
    hints = {name: gettext(hint) for name, hint in HINTS.items()}
    page = build_page(setup.form, entry, lang, errors, focus, hints)
    return render(
        request,
        "pages/entry.html",
        {
            "setup": setup,
            "page": page,
            "lang": lang,
            "notice": notice,
            "focus_summary": bool(page.summary) and focus is None,
            "focus_channel": focus == CHANNEL_FIELD,
            "languages": [("en", LANGUAGE_NAMES["en"])]
            + [(code, LANGUAGE_NAMES.get(code, code)) for code in languages(setup.form)],
            "title": say(setup.form.title, lang)[0],
        },
        status_code=status_code,
    )


@router.get("/orders/new")
async def new_order(
    request: Request, _: Annotated[CurrentUser, Depends(may_enter)], channel: str = DEFAULT_CHANNEL, lang: str = ""
):
    setup = await anyio.to_thread.run_sync(load_setup, channel.strip()[:50])
    entry = Entry.blank(setup.form)
    if _field_at(setup.form.fields, EXTERNAL_ID_FIELD) is not None:
        # Made now, not on submit: a double-clicked or re-sent form names the same order.
        entry.values[EXTERNAL_ID_FIELD] = generated_external_id(setup.channel)
    return _show(request, setup, entry, _lang(lang))


@router.post("/orders/new")
async def create_order(
    request: Request, client: TemporalDep, starter: StarterDep, _: Annotated[CurrentUser, Depends(entering)]
):
    data = await request.form()
    lang = _lang(_submitted(data, "lang"))
    action = (_submitted(data, "action") or "create").strip()
    requested = (_submitted(data, CHANNEL_FIELD) or "").strip()[:50]
    setup = await anyio.to_thread.run_sync(load_setup, requested)
    entry = Entry.read(setup.form, data)

    if action == "switch_channel":
        external_id = entry.values.get(EXTERNAL_ID_FIELD, "")
        if _GENERATED.match(external_id) and not external_id.startswith(setup.channel.upper() + "-"):
            entry.values[EXTERNAL_ID_FIELD] = generated_external_id(setup.channel)
        return _show(request, setup, entry, lang, focus=CHANNEL_FIELD)
    if action.startswith(("add_row:", "remove_row:")):
        return _show(request, setup, entry, lang, focus=change_rows(setup.form, entry, action))
    if action != "create":
        return _show(
            request,
            setup,
            entry,
            lang,
            notice=gettext("Unknown action %(action)r; nothing was done.", action=action[:40]),
            status_code=400,
        )

    entry = entry.without_blank_rows(setup.form)
    document = entry.document(setup.form)
    if not str(document.get(EXTERNAL_ID_FIELD) or "").strip():
        document[EXTERNAL_ID_FIELD] = generated_external_id(setup.channel)
        if _field_at(setup.form.fields, EXTERNAL_ID_FIELD) is not None:
            entry.values[EXTERNAL_ID_FIELD] = document[EXTERNAL_ID_FIELD]
    payload = {**document, CHANNEL_FIELD: requested}
    try:
        accepted = await submit_order(client, payload, starter=starter)
    except IntakeRejected as exc:
        errors = in_page_language(setup.form, payload, exc.errors)
        return _show(request, setup, entry, lang, errors, status_code=status_for(exc))
    except IntakeUnavailable:
        return _show(
            request,
            setup,
            entry,
            lang,
            status_code=503,
            notice=gettext("Too many orders are waiting to start, so nothing was stored. Try again in a moment."),
        )
    if accepted.created:
        done = gettext("Order created.")
    else:
        done = gettext("This order was created already; nothing new was stored.")
    return redirect(f"/orders/{accepted.order_id}", Flash().ok(done))


def change_rows(form: Form, entry: Entry, action: str) -> str | None:
    """Add or remove a row as ``action`` says; the input to focus afterwards."""
    verb, _, rest = action.partition(":")
    table, _, index = rest.rpartition(":") if verb == "remove_row" else (rest, "", "")
    field = _table_at(form, table)
    if field is None:
        return None
    if verb == "add_row":
        added = entry.add_row(table, field.max_rows or MAX_ROWS)
        row = added if added is not None else entry.rows.get(table, 1) - 1
    else:
        if not index.isdigit():
            return None
        entry.remove_row(table, int(index))
        row = min(int(index), max(entry.rows.get(table, 0) - 1, 0))
    return _first_input(field.columns, row_name(table, row))


_TABLE_NAME = re.compile(r"(?:[a-z][a-z0-9_]*(?:\[\d{1,6}\])?\.)*[a-z][a-z0-9_]*")


def _table_at(form: Form, name: str) -> Field | None:
    """The table an input name such as ``lines`` or ``parcels[0].items`` points at."""
    if not _TABLE_NAME.fullmatch(name):
        return None
    fields, field = form.fields, None
    for part in re.findall(r"([a-z][a-z0-9_]*)", re.sub(r"\[\d+\]", "", name)):
        field = next((f for f in fields if f.id == part), None)
        if field is None:
            return None
        fields = field.columns if field.type == "table" else field.fields
    return field if field is not None and field.type == "table" else None


def _first_input(fields: tuple[Field, ...], prefix: str) -> str | None:
    for field in fields:
        name = child(prefix, field.id)
        if field.type in CONTAINERS:
            return _first_input(field.fields, name)
        if field.type == "table":
            return _first_input(field.columns, row_name(name, 0))
        return name
    return None
