// The structured editors beside the YAML text: the rule builder, the form builder and the grid of a
// decision table (a rule set's table rules; the carrier table).
//
// The YAML text stays the one draft: the builders read it from the server (/definitions/structure) and
// change it only by sending structured edits (/definitions/edit, /definitions/rule,
// /definitions/case-from-order), which the server writes into the text in place, comments and key order
// kept; the new text goes back into the text editor, so switching between the two at any time loses
// nothing. Changes go one at a time, each on the text the one before it left.
import { t, tn } from "./text.js";
import { NO_FORM, el, button, removeButton, labelled, selectOf } from "./dom.js";
import { tableGrid } from "./table_grid.js";
import { draftOf } from "./draft.js";

const tabs = document.querySelector("[data-role=builder-tabs]");
if (tabs) setup(tabs);

function setup(tabs) {
  const pane = tabs.closest("[data-editor]") || document;
  const panel = pane.querySelector("[data-role=builder]");
  const body = panel.querySelector("[data-role=builder-body]");
  const status = panel.querySelector("[data-role=builder-status]");
  const kind = tabs.dataset.kind;
  const csrf = tabs.dataset.csrf;
  const canEdit = tabs.dataset.canEdit === "yes";
  let structure = null;
  let grids = []; // the tables drawn now: their errors are marked again after each change

  // ---- the shared draft -------------------------------------------------------------------------

  const { editorView, putText, post } = draftOf(pane, csrf);

  function say(message, kindOfMessage) {
    status.textContent = message;
    status.className = `builder-status ${kindOfMessage || ""}`;
  }

  // An answer with a new text: into the editor, then the builder drawn again from it (a quiet one, a cell
  // typed into, keeps what is drawn and only marks the errors again, so typing goes on undisturbed).
  function took(answer, done, quiet) {
    putText(answer.text);
    structure = answer.structure;
    if (quiet) grids.forEach((grid) => grid.mark());
    else draw();
    const problems = answer.errors ? answer.errors.length : 0;
    say(problems
      ? `${done} ${tn("%(num)d problem to fix: see Problems.", "%(num)d problems to fix: see Problems.", problems)}`
      : `${done} ${t("The definition is valid.")}`, problems ? "error" : "ok");
  }

  let queue = Promise.resolve(true);

  function change(url, payload, done, quiet) {
    const run = queue.then(async () => {
      try {
        took(await post(url, payload), done, quiet);
        return true;
      } catch (error) {
        say(t("Not changed: %(problem)s", { problem: error.message || error }), "error");
        return false;
      }
    });
    queue = run;
    return run;
  }

  async function load() {
    say(t("Reading the definition…"));
    try {
      structure = await post("/definitions/structure", {});
      say("");
    } catch (error) {
      structure = null;
      say(t("Could not read the definition: %(problem)s", { problem: error.message || error }), "error");
    }
    draw();
  }

  // ---- tabs -------------------------------------------------------------------------------------

  function show(which) {
    const builder = which === "builder";
    for (const tab of tabs.querySelectorAll("[role=tab]")) {
      tab.setAttribute("aria-selected", String(tab.dataset.tab === which));
    }
    panel.hidden = !builder;
    // A class on the pane hides the text editor: CodeMirror owns its own element's attributes.
    pane.classList.toggle("building", builder);
    if (builder) load();
    else if (editorView()) editorView().focus();
  }

  tabs.hidden = false;
  tabs.addEventListener("click", (event) => {
    const tab = event.target.closest("[role=tab]");
    if (tab) show(tab.dataset.tab);
  });

  function draw() {
    body.replaceChildren();
    grids = [];
    if (!structure) return;
    if (!structure.readable) {
      body.append(el("p", { class: "notice error" },
        t("The YAML text cannot be read now (%(problem)s). Fix it in the YAML text; the builder shows it again then.",
          { problem: structure.problem })));
      return;
    }
    if (kind === "rules") drawRules();
    else if (kind === "carriers") drawCarriers();
    else drawForm();
  }

  // ---- decision tables --------------------------------------------------------------------------

  function grid(view) {
    const drawn = tableGrid(view, {
      canEdit,
      errors: () => (structure && structure.errors) || [],
      change: (edits, done, quiet) => change("/definitions/edit", { edits }, done, quiet),
    });
    grids.push(drawn);
    return drawn.element;
  }

  function tableHint() {
    return el("p", { class: "hint" }, t("The first row whose tests all pass decides. A cell tests its column's input: 'express' (is express), <= 30, > 2, in ['eu', 'uk'], not in ['DE']; - matches anything."));
  }

  function drawCarriers() {
    body.append(el("h3", {}, t("Carrier table")), tableHint());
    if (structure.grid) body.append(grid(structure.grid));
    else body.append(el("p", { class: "notice error" }, t("The table cannot be shown as a grid: fix it in the YAML text.")));
  }

  // ---- the rule builder -------------------------------------------------------------------------

  let editing = null; // {index: number|null}: the rule open in the rule form

  function fieldOf(path) {
    return structure.fields.find((f) => f.path === path) || { path, label: path, type: "text", options: [] };
  }

  function valueText(value) {
    if (Array.isArray(value)) return value.join(", ");
    return value === null || value === undefined ? "" : String(value);
  }

  function opWords(op) { return t(structure.operator_words[op] || op); }

  function sentence(condition) {
    const words = condition.terms.map((term) => {
      const field = fieldOf(term.field);
      return term.op.startsWith("is ")
        ? t("%(field)s %(op)s", { field: t(field.label), op: opWords(term.op) })
        : t("%(field)s %(op)s %(value)s", { field: t(field.label), op: opWords(term.op), value: valueText(term.value) });
    });
    return words.join(condition.join === "or" ? t(" or ") : t(" and "));
  }

  function drawRules() {
    const list = el("ol", { class: "rule-list" });
    const rules = structure.rules;
    rules.forEach((rule, position) => {
      const item = el("li", { class: "rule-card", "data-rule": rule.id });
      item.append(el("h4", {}, rule.id || t("(no id)")));
      if (rule.table) {
        item.append(el("p", { class: "hint" }, t("A decision table: the first row whose tests all pass fires.")));
        if (rule.grid) item.append(grid(rule.grid));
        else item.append(el("p", { class: "hint read-only" }, t("This table cannot be shown as a grid: edit it in the YAML text.")));
      } else if (rule.condition) {
        item.append(el("p", { class: "rule-sentence" }, t("When "), el("strong", {}, sentence(rule.condition))));
      } else {
        item.append(el("p", { class: "rule-sentence" }, t("When "), el("code", {}, rule.when || "")));
        item.append(el("p", { class: "hint read-only" },
          t("This condition is more than the builder shows (brackets, calculations or comparing two fields): it is read-only here; change it in the YAML text.")));
      }
      if (!rule.table) {
        item.append(el("p", { class: "rule-outcome" }, t("then "), el("strong", {}, rule.action ? t(rule.action) : "?"),
          rule.tag ? t(" (tag %(tag)s)", { tag: rule.tag }) : "", ": ", el("q", {}, rule.reason || "")));
      }
      if (canEdit) {
        const actions = el("div", { class: "buttons" });
        if (rule.condition) actions.append(button(t("Edit"), () => openRule(rule.index), { "aria-label": t("Edit rule %(rule)s", { rule: rule.id }) }));
        if (position > 0) actions.append(button(t("Move up"), () => moveRule(rule.index, rule.index - 1), { "aria-label": t("Move rule %(rule)s up", { rule: rule.id }) }));
        if (position < rules.length - 1) actions.append(button(t("Move down"), () => moveRule(rule.index, rule.index + 1), { "aria-label": t("Move rule %(rule)s down", { rule: rule.id }) }));
        actions.append(removeButton(t("Remove rule %(rule)s", { rule: rule.id }), () => change("/definitions/edit",
          { edits: [{ op: "delete", path: ["rules", rule.index] }] }, t("Rule %(rule)s removed.", { rule: rule.id }))));
        item.append(actions);
      }
      if (editing && editing.index === rule.index) item.append(ruleForm(rule));
      list.append(item);
    });
    body.append(el("h3", {}, t("Rules")), el("p", { class: "hint" },
      t("Each rule: when its condition holds, its action is taken and its reason recorded on the order.")), list);
    if (canEdit) {
      if (editing && editing.index === null) body.append(ruleForm(null));
      else body.append(el("div", { class: "buttons" }, el("button", { type: "button", onclick: () => openRule(null) }, t("Add a rule"))));
      if (structure.audits !== "returns") body.append(casesFromOrders());
    }
  }

  function openRule(index) {
    editing = { index };
    draw();
    const form = body.querySelector(".rule-form input, .rule-form select");
    if (form) form.focus();
  }

  async function moveRule(index, to) {
    await change("/definitions/edit", { edits: [{ op: "move", path: ["rules"], index, to }] }, t("Rule moved."));
  }

  function fieldSelect(path) {
    const select = el("select", { "aria-label": t("Field"), "data-role": "term-field" });
    const groups = new Map();
    for (const field of structure.fields) {
      if (!groups.has(field.group)) groups.set(field.group, el("optgroup", { label: t(field.group) }));
      const sample = field.sample === null || field.sample === undefined ? "" : t(" (e.g. %(sample)s)", { sample: valueText(field.sample) });
      groups.get(field.group).append(el("option", { value: field.path }, `${t(field.label)}${sample}`));
    }
    for (const group of groups.values()) select.append(group);
    if (path) select.value = path;
    return select;
  }

  function firstField() { return structure.fields.length ? structure.fields[0].path : "order.total"; }

  function termRow(term, rows) {
    const row = el("li", { class: "term" });
    const field = fieldSelect(term.field);
    const ops = el("select", { "aria-label": t("Operator"), "data-role": "term-op" });
    const valueHolder = el("span", { class: "term-value" });

    function fillOps(keep) {
      const type = fieldOf(field.value).type;
      ops.replaceChildren(...structure.operators[type].map((op) => el("option", { value: op }, opWords(op))));
      if (keep && structure.operators[type].includes(keep)) ops.value = keep;
    }
    function fillValue(value) {
      const spec = fieldOf(field.value);
      valueHolder.replaceChildren();
      if (ops.value.startsWith("is ")) return;
      let control;
      if (ops.value === "in" || ops.value === "not in") {
        control = el("input", { type: "text", "aria-label": t("Values, separated by commas"), placeholder: "a, b, c", value: valueText(value) });
      } else if (spec.options && spec.options.length) {
        control = selectOf(spec.options, value === undefined ? spec.options[0] : value, { "aria-label": t("Value") });
      } else if (spec.type === "number") {
        control = el("input", { type: "number", step: "any", "aria-label": t("Value"), value: valueText(value) });
      } else {
        control = el("input", { type: "text", "aria-label": t("Value"), value: valueText(value) });
      }
      control.dataset.role = "term-value";
      valueHolder.append(control);
    }
    field.addEventListener("change", () => { fillOps(); fillValue(); });
    ops.addEventListener("change", () => fillValue());
    fillOps(term.op);
    fillValue(term.value);
    row.append(field, " ", ops, " ", valueHolder, " ",
      button(t("Remove condition"), () => { row.remove(); }, { "aria-label": t("Remove this condition") }));
    rows.append(row);
  }

  function readTerm(row) {
    const field = row.querySelector("[data-role=term-field]").value;
    const op = row.querySelector("[data-role=term-op]").value;
    const input = row.querySelector("[data-role=term-value]");
    const type = fieldOf(field).type;
    const convert = (text) => (type === "number" && text.trim() !== "" && !Number.isNaN(Number(text)) ? Number(text) : text.trim());
    if (op.startsWith("is ")) return { field, op, value: null };
    if (op === "in" || op === "not in") {
      return { field, op, value: input.value.split(",").map((v) => v.trim()).filter(Boolean).map(convert) };
    }
    return { field, op, value: convert(input.value) };
  }

  function ruleForm(rule) {
    const form = el("fieldset", { class: "rule-form" });
    form.append(el("legend", {}, rule ? t("Change rule %(rule)s", { rule: rule.id }) : t("New rule")));
    const id = el("input", { type: "text", value: rule ? rule.id : "", placeholder: t("e.g. big_order_new_address") });
    form.append(labelled(t("Rule name (lower case, digits, _)"), id));
    const condition = rule && rule.condition ? rule.condition : { join: "and", terms: [] };
    const join = selectOf([["and", t("all of these hold (and)")], ["or", t("any of these holds (or)")]], condition.join);
    form.append(labelled(t("The rule fires when"), join));
    const rows = el("ol", { class: "terms" });
    for (const term of condition.terms) termRow(term, rows);
    if (!condition.terms.length) termRow({ field: firstField(), op: null, value: undefined }, rows);
    form.append(rows, el("div", { class: "buttons" },
      button(t("Add a condition"), () => termRow({ field: firstField(), op: null, value: undefined }, rows))));
    const returns = structure.audits === "returns";
    const action = selectOf([["review", t("review: hold for a person to decide")], ["reject", t("reject")],
      ["approve", t("approve")], ["tag", returns ? t("tag: label the return, decide nothing") : t("tag: label the order, decide nothing")]],
    rule ? rule.action : "review");
    form.append(labelled(t("Then"), action));
    const tags = `b-tags-${Math.random().toString(36).slice(2, 8)}`;
    const tag = el("input", { type: "text", value: rule && rule.tag ? rule.tag : "", list: tags });
    const tagField = labelled(t("Tag label"), tag);
    tagField.append(el("datalist", { id: tags }, ...(structure.tags || []).map((known) => el("option", { value: known.tag }, known.hint ? t(known.hint) : known.tag))));
    const known = (structure.tags || []).filter((k) => k.hint);
    if (known.length) {
      tagField.append(el("p", { class: "hint" }, ...known.map((k, i) => [i ? "; " : "", el("code", {}, k.tag), `: ${t(k.hint)}`])));
    }
    tagField.hidden = action.value !== "tag";
    action.addEventListener("change", () => { tagField.hidden = action.value !== "tag"; });
    form.append(tagField);
    const reason = el("input", { type: "text", class: "wide", value: rule ? rule.reason || "" : "" });
    form.append(labelled(returns ? t("Reason (recorded on the return)") : t("Reason (recorded on the order)"), reason));
    const insert = el("select", { "aria-label": t("Insert a field into the reason") },
      el("option", { value: "" }, t("Insert a field into the reason…")),
      ...structure.fields.filter((f) => !f.path.includes("[]")).map((f) => el("option", { value: f.path }, t(f.label))));
    insert.addEventListener("change", () => {
      if (!insert.value) return;
      reason.value = `${reason.value}${reason.value && !reason.value.endsWith(" ") ? " " : ""}{{ ${insert.value} }}`;
      insert.value = "";
      reason.focus();
    });
    form.append(insert);
    const save = el("button", { type: "button" }, rule ? t("Save rule") : t("Add rule"));
    save.addEventListener("click", async () => {
      const spec = {
        id: id.value.trim(),
        condition: { join: join.value, terms: [...rows.querySelectorAll(".term")].map(readTerm) },
        action: action.value,
        tag: tag.value.trim() || null,
        reason: reason.value,
      };
      const ok = await change("/definitions/rule", { index: rule ? rule.index : null, rule: spec },
        rule ? t("Rule %(rule)s saved.", { rule: spec.id }) : t("Rule %(rule)s added.", { rule: spec.id }));
      if (ok) { editing = null; draw(); }
    });
    form.append(el("div", { class: "buttons" }, save, button(t("Cancel"), () => { editing = null; draw(); })));
    return form;
  }

  function casesFromOrders() {
    const section = el("section", { class: "cases-from-orders", "aria-labelledby": "cases-heading" });
    section.append(el("h3", { id: "cases-heading" }, t("Test cases from recorded orders")),
      el("p", { class: "hint" }, t("An order's input and the facts its audit found become a test case with the outcome you expect; it runs on every check, and publishing waits until it passes.")));
    const outcomes = structure.case_actions.map((a) => [a, t(a)]);
    if (structure.recent_orders.length) {
      const table = el("table", { class: "recent-orders" },
        el("thead", {}, el("tr", {}, ...[t("Order"), t("Channel"), t("Total"), t("Decided"), t("Expected outcome"), ""].map((h) => el("th", { scope: "col" }, h)))));
      const rows = el("tbody");
      for (const order of structure.recent_orders) {
        const expect = selectOf(outcomes, structure.case_actions.includes(order.action) ? order.action : "approve",
          { "aria-label": t("Expected outcome of %(order)s", { order: order.external_id }) });
        rows.append(el("tr", { "data-order": order.id },
          el("td", {}, el("a", { href: `/orders/${encodeURIComponent(order.id)}` }, order.external_id)),
          el("td", {}, order.channel), el("td", { class: "num" }, String(order.total)),
          el("td", {}, order.action ? t(order.action) : "", order.fired.length ? el("span", { class: "hint" }, ` (${order.fired.join(", ")})`) : ""),
          el("td", {}, expect),
          el("td", {}, button(t("Make this a test case"), () => makeCase(order.id, expect.value), { "aria-label": t("Make order %(order)s a test case", { order: order.external_id }) }))));
      }
      table.append(rows);
      section.append(el("div", { class: "scroll" }, table));
    } else {
      section.append(el("p", { class: "hint" }, t("No order has been audited by this rule set yet.")));
    }
    const reference = el("input", { type: "text", placeholder: t("ord_… or the channel's order number") });
    const expect = selectOf(outcomes, "review", { "aria-label": t("Expected outcome") });
    section.append(el("div", { class: "case-by-id" }, labelled(t("Another order"), reference), expect,
      button(t("Make it a test case"), () => makeCase(reference.value.trim(), expect.value))));
    return section;
  }

  async function makeCase(orderId, expect) {
    await change("/definitions/case-from-order", { order_id: orderId, expect },
      t("Test case from %(order)s added, expecting %(outcome)s.", { order: orderId, outcome: t(expect) }));
  }

  // ---- the form builder -------------------------------------------------------------------------

  const TYPES = ["text", "number", "integer", "money", "email", "phone", "date", "boolean", "select", "address", "group", "table"];
  const NUMERIC = ["number", "integer", "money"];
  const TEXTUAL = ["text", "email", "phone"];
  let fieldEditing = null; // {index: number|null}

  function labelOf(label, language) {
    if (label && typeof label === "object") return label[language] || "";
    return language === "en" ? label || "" : "";
  }

  function drawForm() {
    const list = el("ol", { class: "field-list" });
    const fields = structure.fields;
    fields.forEach((field, position) => {
      const zh = labelOf(field.label, "zh");
      const facts = [field.id, field.type];
      if (field.required) facts.push(t("required"));
      if (field.visible_if) facts.push(t("shown when %(condition)s", { condition: field.visible_if }));
      const item = el("li", { class: "field-card", "data-field": field.id },
        el("h4", {}, labelOf(field.label, "en") || field.id, zh ? el("span", { lang: "zh", class: "zh" }, ` · ${zh}`) : ""),
        el("p", { class: "hint" }, facts.join(" · ")));
      if (canEdit) {
        const actions = el("div", { class: "buttons" });
        actions.append(button(t("Edit"), () => openField(field.index), { "aria-label": t("Edit field %(field)s", { field: field.id }) }));
        if (position > 0) actions.append(button(t("Move up"), () => moveField(field.index, field.index - 1), { "aria-label": t("Move field %(field)s up", { field: field.id }) }));
        if (position < fields.length - 1) actions.append(button(t("Move down"), () => moveField(field.index, field.index + 1), { "aria-label": t("Move field %(field)s down", { field: field.id }) }));
        actions.append(removeButton(t("Remove field %(field)s", { field: field.id }), () => change("/definitions/edit",
          { edits: [{ op: "delete", path: ["fields", field.index] }] }, t("Field %(field)s removed.", { field: field.id }))));
        item.append(actions);
      }
      if (fieldEditing && fieldEditing.index === field.index) item.append(fieldForm(field));
      list.append(item);
    });
    body.append(el("h3", {}, t("Fields")), el("p", { class: "hint" }, t("In the order they are shown and checked.")), list);
    if (canEdit) {
      if (fieldEditing && fieldEditing.index === null) body.append(fieldForm(null));
      else body.append(el("div", { class: "buttons" }, el("button", { type: "button", onclick: () => openField(null) }, t("Add a field"))));
    }
    const preview = el("div", { class: "form-preview-frame", inert: true });
    if (structure.preview_html) preview.innerHTML = structure.preview_html; // rendered and escaped by the server
    else preview.append(el("p", { class: "hint" }, t("No preview while the form has problems.")));
    for (const control of preview.querySelectorAll("input, select, textarea, button")) control.setAttribute("form", NO_FORM);
    body.append(el("section", { class: "form-preview-section", "aria-label": t("Preview of the order entry page") },
      el("h3", {}, t("Preview: the order entry page")), preview));
  }

  function openField(index) {
    fieldEditing = { index };
    draw();
    const first = body.querySelector(".field-form input");
    if (first) first.focus();
  }

  async function moveField(index, to) {
    await change("/definitions/edit", { edits: [{ op: "move", path: ["fields"], index, to }] }, t("Field moved."));
  }

  function fieldForm(field) {
    const form = el("fieldset", { class: "field-form" });
    form.append(el("legend", {}, field ? t("Change field %(field)s", { field: field.id }) : t("New field")));
    const id = el("input", { type: "text", value: field ? field.id : "", placeholder: t("e.g. purchase_order") });
    const type = selectOf(TYPES, field ? field.type : "text");
    const en = el("input", { type: "text", value: field ? labelOf(field.label, "en") : "" });
    const zh = el("input", { type: "text", lang: "zh", value: field ? labelOf(field.label, "zh") : "" });
    const required = el("input", { type: "checkbox", checked: field ? field.required : false });
    const help = el("input", { type: "text", class: "wide", value: field ? labelOf(field.help, "en") : "" });
    const min = el("input", { type: "number", step: "any", value: field && field.min !== undefined ? field.min : "" });
    const max = el("input", { type: "number", step: "any", value: field && field.max !== undefined ? field.max : "" });
    const minLength = el("input", { type: "number", min: "0", value: field && field.min_length !== undefined ? field.min_length : "" });
    const maxLength = el("input", { type: "number", min: "0", value: field && field.max_length !== undefined ? field.max_length : "" });
    const options = el("textarea", { rows: "3" });
    options.value = field && Array.isArray(field.options)
      ? field.options.map((o) => (o && typeof o === "object" ? o.value : o)).join("\n") : "";
    const numberParts = el("div", { class: "builder-row" }, labelled(t("Smallest value"), min), labelled(t("Largest value"), max));
    const textParts = el("div", { class: "builder-row" }, labelled(t("Fewest characters"), minLength), labelled(t("Most characters"), maxLength));
    const optionParts = labelled(t("Options (one per line)"), options);
    function shown() {
      numberParts.hidden = !NUMERIC.includes(type.value);
      textParts.hidden = !TEXTUAL.includes(type.value);
      optionParts.hidden = type.value !== "select";
    }
    type.addEventListener("change", shown);
    shown();
    const requiredLine = el("div", { class: "builder-field checkbox" });
    required.id = `b-req-${Math.random().toString(36).slice(2, 8)}`;
    requiredLine.append(required, el("label", { for: required.id }, t("Required: an order without it is refused")));
    const when = askWhen(field ? field.visible_if : null);
    form.append(el("div", { class: "builder-row" }, labelled(t("Field id (lower case, digits, _)"), id), labelled(t("Type"), type)),
      el("div", { class: "builder-row" }, labelled(t("Label in English"), en), labelled(t("Label in Chinese"), zh)),
      requiredLine, when.element, labelled(t("Help (shown beside the field)"), help), numberParts, textParts, optionParts);
    const save = el("button", { type: "button" }, field ? t("Save field") : t("Add field"));
    save.addEventListener("click", async () => {
      const edits = fieldEdits(field, {
        id: id.value.trim(), type: type.value, en: en.value.trim(), zh: zh.value.trim(), required: required.checked,
        help: help.value.trim(), min: min.value, max: max.value, min_length: minLength.value, max_length: maxLength.value,
        options: options.value.split("\n").map((o) => o.trim()).filter(Boolean),
        visible_if: when.read(),
      });
      const ok = await change("/definitions/edit", { edits },
        field ? t("Field %(field)s saved.", { field: id.value.trim() }) : t("Field %(field)s added.", { field: id.value.trim() }));
      if (ok) { fieldEditing = null; draw(); }
    });
    form.append(el("div", { class: "buttons" }, save, button(t("Cancel"), () => { fieldEditing = null; draw(); })));
    return form;
  }

  // "Ask only when": a choice of the form (a select or a yes/no field) is, or is not, one value.
  // A condition the builder cannot show (any other expression) is kept as it is and said so.
  const SIMPLE_WHEN = /^\s*([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)\s*(==|!=)\s*(?:'([^'\\]*)'|(true|false))\s*$/;

  function askWhen(current) {
    const match = current ? SIMPLE_WHEN.exec(current) : null;
    const choices = structure.condition_fields || [];
    if (current && (!match || !choices.some((c) => c.path === match[1]))) {
      return {
        element: el("p", { class: "hint" }, t("Asked only when "), el("code", {}, current), t(" (change that condition in the YAML text).")),
        read: () => current,
      };
    }
    const fieldChoice = selectOf([["", t("always")], ...choices.map((c) => [c.path, c.label])], match ? match[1] : "");
    const op = selectOf([["==", t("is")], ["!=", t("is not")]], match ? match[2] : "==", { "aria-label": t("Comparison") });
    const value = el("select", { "aria-label": t("Value of the condition") });
    function fill(keep) {
      const choice = choices.find((c) => c.path === fieldChoice.value);
      op.hidden = value.hidden = !choice;
      value.replaceChildren(...(choice ? choice.options : []).map((o) => el("option", { value: String(o) }, String(o))));
      if (keep !== undefined) value.value = keep;
    }
    fieldChoice.addEventListener("change", () => fill());
    fill(match ? (match[3] !== undefined ? match[3] : match[4]) : undefined);
    const element = el("div", { class: "builder-row ask-when" }, labelled(t("Ask only when"), fieldChoice), op, value);
    return {
      element,
      read: () => {
        const choice = choices.find((c) => c.path === fieldChoice.value);
        if (!choice) return null;
        const literal = value.value === "true" || value.value === "false" ? value.value : `'${value.value}'`;
        return `${choice.path} ${op.value} ${literal}`;
      },
    };
  }

  // The field as the YAML holds it; keys the builder does not show (visible_if, default, columns...) are kept.
  function fieldEdits(field, input) {
    const oldLabel = field ? field.label : null;
    let label = input.en;
    const others = oldLabel && typeof oldLabel === "object" ? { ...oldLabel } : {};
    delete others.en; delete others.zh;
    if (input.zh || Object.keys(others).length) {
      label = { en: input.en, ...(input.zh ? { zh: input.zh } : {}), ...others };
    }
    const wanted = { id: input.id, type: input.type, label };
    if (input.required) wanted.required = true;
    if (input.visible_if) wanted.visible_if = input.visible_if;
    if (input.help) wanted.help = input.help;
    const number = (text) => (text === "" ? undefined : Number(text));
    if (NUMERIC.includes(input.type)) { wanted.min = number(input.min); wanted.max = number(input.max); }
    if (TEXTUAL.includes(input.type)) { wanted.min_length = number(input.min_length); wanted.max_length = number(input.max_length); }
    if (input.type === "select") wanted.options = input.options;
    for (const key of Object.keys(wanted)) if (wanted[key] === undefined) delete wanted[key];
    if (!field) return [{ op: "insert", path: ["fields"], value: wanted }];
    const managed = ["id", "type", "label", "required", "visible_if", "help", "min", "max", "min_length", "max_length", "options"];
    const edits = [];
    for (const key of managed) {
      const before = field[key];
      const after = wanted[key];
      if (after === undefined) {
        if (before !== undefined) edits.push({ op: "delete", path: ["fields", field.index, key] });
      } else if (JSON.stringify(before) !== JSON.stringify(after)) {
        if (key === "help" && before && typeof before === "object") {
          edits.push({ op: "set", path: ["fields", field.index, "help", "en"], value: after });
        } else if (key === "options" && Array.isArray(before) && before.some((o) => o && typeof o === "object")
          && JSON.stringify(before.map((o) => (o && typeof o === "object" ? o.value : o))) === JSON.stringify(after)) {
          // options with labels of their own stay as they are when their values do not change
        } else {
          edits.push({ op: "set", path: ["fields", field.index, key], value: after });
        }
      }
    }
    return edits;
  }
}
