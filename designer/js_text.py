"""What the designer's scripts say, in the reader's language.

The scripts (frontend/src: editor.js, diagram.js, flow_editor.js, builder.js,
table_grid.js, dom.js; built into designer/static/editor) write their messages
in English through a small ``t()`` (frontend/src/text.js). Every one of them is
listed here, marked for the gettext catalogue, so ``scripts/translations``
extracts them with the pages' own messages; with them the words the server
sends the scripts to show (fact labels, operators, step types, column
headings). A designer page embeds ``script_text()`` — each of these in the
signed-in person's language — as ``<script type="application/json"
id="oms-text">`` (templates ``pages/script_text.html``); ``t()`` looks a
message up there and fills in its ``%(name)s`` placeholders.
tests/web/test_script_text.py checks that this list and the scripts agree.
"""

from __future__ import annotations

from designer.flow_editor import TYPE_SUMMARIES
from designer.table_grid import OUTPUT_LABELS
from engine.rule_builder import FACT_LABELS, GROUPS, OPERATOR_WORDS, ORDER_TOTAL, RETURN_FACT_LABELS, RETURN_TAGS
from web.i18n import DEFAULT, N_, language, translations


def ngettext(singular: str, plural: str) -> tuple[str, str]:
    """Marks a message with a plural for the catalogue (gettext's tools take this name); ``tn()`` picks the form."""
    return singular, plural


# t("...") in the scripts.
MESSAGES = (
    N_("Could not check with the server: %(problem)s"),
    N_("Valid: no problems found."),
    N_("Your edits are not saved. Leave this page and lose them?"),
    N_("Running what-if…"),
    N_("What-if did not run: %(problem)s"),
    N_("Could not prepare the publish: %(problem)s"),
    N_("Close"),
    N_("Definition text"),
    N_("Shown at %(percent)d%% of its actual size"),
    N_("Reading the flow…"),
    N_("Could not read the flow: %(problem)s"),
    N_("The flow is valid."),
    N_("Not changed: %(problem)s"),
    N_("Fix the text first: %(problem)s"),
    N_("Flow %(name)s"),
    N_("Step %(step)s (%(type)s)"),
    N_("Click a step to change it, add a step after it or delete it."),
    N_("%(step)s (missing)"),
    N_("Step %(step)s"),
    N_("status %(status)s"),
    N_("Outcome %(outcome)s of %(step)s goes to"),
    N_("%(step)s %(outcome)s now goes to %(target)s."),
    N_("Outcomes"),
    N_("e.g. 3 days"),
    N_("Due in"),
    N_("Times out after"),
    N_("Escalation due in"),
    N_("Set"),
    N_("%(step)s %(field)s set to %(words)s."),
    N_("Led to from"),
    N_("the start of the flow"),
    N_("Title of step %(step)s"),
    N_("Title"),
    N_("Set title"),
    N_("Title of %(step)s set to “%(title)s”."),
    N_("Title of %(step)s removed."),
    N_("Add a step after %(step)s"),
    N_("An end step leads nowhere."),
    N_("%(outcome)s (now → %(target)s)"),
    N_("e.g. 4 hours"),
    N_("On reject go to"),
    N_("(where this outcome led)"),
    N_("Who decides"),
    N_("Activity"),
    N_("Event waited for"),
    N_("Condition"),
    N_("Rule set"),
    N_("After the outcome"),
    N_("Type of the new step"),
    N_("Id of the new step"),
    N_("Status shown on the order"),
    N_("Add step"),
    N_("Step %(new)s added after %(step)s (%(outcome)s)."),
    N_("e.g. fraud"),
    N_("Name of saved value %(num)s"),
    N_("e.g. score"),
    N_("Expression of saved value %(num)s"),
    N_("Save another value"),
    N_("e.g. 404, 5xx, timeout"),
    N_("On an error go to"),
    N_("Method"),
    N_("Endpoint (named in OMS_HTTP_ENDPOINTS)"),
    N_("Path after the endpoint"),
    N_("Or an https URL"),
    N_("Body (optional)"),
    N_("Saved from the answer (results.<step>.<name>)"),
    N_("Errors that go elsewhere"),
    N_("Delete step %(step)s…"),
    N_("Steps that led to %(step)s now go to"),
    N_("(nowhere: I will connect them myself)"),
    N_("Delete %(step)s"),
    N_("Step %(step)s deleted."),
    N_("No step leads to it."),
    N_("They now go to"),
    N_("The definition is valid."),
    N_("Reading the definition…"),
    N_("Could not read the definition: %(problem)s"),
    N_("The YAML text cannot be read now (%(problem)s). Fix it in the YAML text; the builder shows it again then."),
    N_(
        "The first row whose tests all pass decides. A cell tests its column's input: 'express' "
        "(is express), <= 30, > 2, in ['eu', 'uk'], not in ['DE']; - matches anything."
    ),
    N_("Carrier table"),
    N_("The table cannot be shown as a grid: fix it in the YAML text."),
    N_("%(field)s %(op)s"),
    N_("%(field)s %(op)s %(value)s"),
    N_(" or "),
    N_(" and "),
    N_("(no id)"),
    N_("A decision table: the first row whose tests all pass fires."),
    N_("This table cannot be shown as a grid: edit it in the YAML text."),
    N_("When "),
    N_(
        "This condition is more than the builder shows (brackets, calculations or "
        "comparing two fields): it is read-only here; change it in the YAML text."
    ),
    N_("then "),
    N_(" (tag %(tag)s)"),
    N_("Edit"),
    N_("Edit rule %(rule)s"),
    N_("Move up"),
    N_("Move rule %(rule)s up"),
    N_("Move down"),
    N_("Move rule %(rule)s down"),
    N_("Remove rule %(rule)s"),
    N_("Rule %(rule)s removed."),
    N_("Rules"),
    N_("Each rule: when its condition holds, its action is taken and its reason recorded on the order."),
    N_("Add a rule"),
    N_("Rule moved."),
    N_("Field"),
    N_(" (e.g. %(sample)s)"),
    N_("Operator"),
    N_("Values, separated by commas"),
    N_("Value"),
    N_("Remove condition"),
    N_("Remove this condition"),
    N_("Change rule %(rule)s"),
    N_("New rule"),
    N_("e.g. big_order_new_address"),
    N_("Rule name (lower case, digits, _)"),
    N_("all of these hold (and)"),
    N_("any of these holds (or)"),
    N_("The rule fires when"),
    N_("Add a condition"),
    N_("review: hold for a person to decide"),
    N_("reject"),
    N_("approve"),
    N_("tag: label the return, decide nothing"),
    N_("tag: label the order, decide nothing"),
    N_("Then"),
    N_("Tag label"),
    N_("Reason (recorded on the return)"),
    N_("Reason (recorded on the order)"),
    N_("Insert a field into the reason"),
    N_("Insert a field into the reason…"),
    N_("Save rule"),
    N_("Add rule"),
    N_("Rule %(rule)s saved."),
    N_("Rule %(rule)s added."),
    N_("Cancel"),
    N_("Test cases from recorded orders"),
    N_(
        "An order's input and the facts its audit found become a test case with the outcome "
        "you expect; it runs on every check, and publishing waits until it passes."
    ),
    N_("Order"),
    N_("Channel"),
    N_("Total"),
    N_("Decided"),
    N_("Expected outcome"),
    N_("Expected outcome of %(order)s"),
    N_("Make this a test case"),
    N_("Make order %(order)s a test case"),
    N_("No order has been audited by this rule set yet."),
    N_("ord_… or the channel's order number"),
    N_("Another order"),
    N_("Make it a test case"),
    N_("Test case from %(order)s added, expecting %(outcome)s."),
    N_("required"),
    N_("shown when %(condition)s"),
    N_("Edit field %(field)s"),
    N_("Move field %(field)s up"),
    N_("Move field %(field)s down"),
    N_("Remove field %(field)s"),
    N_("Field %(field)s removed."),
    N_("Fields"),
    N_("In the order they are shown and checked."),
    N_("Add a field"),
    N_("No preview while the form has problems."),
    N_("Preview of the order entry page"),
    N_("Preview: the order entry page"),
    N_("Field moved."),
    N_("Change field %(field)s"),
    N_("New field"),
    N_("e.g. purchase_order"),
    N_("Smallest value"),
    N_("Largest value"),
    N_("Fewest characters"),
    N_("Most characters"),
    N_("Options (one per line)"),
    N_("Required: an order without it is refused"),
    N_("Field id (lower case, digits, _)"),
    N_("Type"),
    N_("Label in English"),
    N_("Label in Chinese"),
    N_("Help (shown beside the field)"),
    N_("Save field"),
    N_("Add field"),
    N_("Field %(field)s saved."),
    N_("Field %(field)s added."),
    N_("Asked only when "),
    N_(" (change that condition in the YAML text)."),
    N_("always"),
    N_("is"),
    N_("is not"),
    N_("Comparison"),
    N_("Value of the condition"),
    N_("Ask only when"),
    N_("Table changed."),
    N_("Input column %(n)d"),
    N_("Remove input column %(n)d"),
    N_("Column %(n)d removed."),
    N_("Row actions"),
    N_("(no input)"),
    N_("Row %(row)d, %(column)s"),
    N_("Row %(row)d changed."),
    N_("Row %(row)d moved up."),
    N_("Move row %(row)d up"),
    N_("Row %(row)d moved down."),
    N_("Move row %(row)d down"),
    N_("Row %(row)d added."),
    N_("Add a row below row %(row)d"),
    N_("Remove row %(row)d"),
    N_("Row %(row)d removed."),
    N_("Input of the new column"),
    N_("Add a column"),
    N_("Column %(input)s added."),
    N_("Remove"),
    N_("Really remove?"),
    N_("%(name)s: click again to confirm"),
)
# tn("...", "...", n) in the scripts.
PLURALS = (
    ngettext("%(num)d problem found.", "%(num)d problems found."),
    ngettext("%(num)d problem to fix: see the steps marked ⚠.", "%(num)d problems to fix: see the steps marked ⚠."),
    ngettext("%(num)d problem", "%(num)d problems"),
    ngettext("%(num)d reference to %(step)s:", "%(num)d references to %(step)s:"),
    ngettext("%(num)d problem to fix: see Problems.", "%(num)d problems to fix: see Problems."),
)
# The actions and outcomes the scripts show by their names.
ACTION_WORDS = (N_("approve"), N_("review"), N_("reject"), N_("tag"))


def server_words() -> tuple[str, ...]:
    """The words the server sends the scripts to show, each marked where it is defined."""
    return (
        *GROUPS,
        ORDER_TOTAL,
        *OPERATOR_WORDS.values(),
        *FACT_LABELS.values(),
        *RETURN_FACT_LABELS.values(),
        *RETURN_TAGS.values(),
        *TYPE_SUMMARIES.values(),
        *OUTPUT_LABELS.values(),
        *ACTION_WORDS,
    )


def script_text() -> dict[str, str]:
    """Every message of the scripts in the current request's language (English: none, the scripts' own text)."""
    code = language()
    if code == DEFAULT:
        return {}
    catalogue = translations(code)
    text = {message: catalogue.gettext(message) for message in (*MESSAGES, *server_words())}
    for singular, plural in PLURALS:
        text[singular], text[plural] = catalogue.ngettext(singular, plural, 1), catalogue.ngettext(singular, plural, 2)
    return text
