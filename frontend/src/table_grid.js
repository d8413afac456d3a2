// A decision table edited as a grid: a row per table row, a column per input, then the outputs.
//
// The server reads the table into a grid (designer/table_grid.py): every cell carries the definition path
// it stands for. A change here is a structured edit of the draft (set a cell, insert, move or remove a row,
// add or remove a column) sent through the builder's queue; the answer's validation marks the cells its
// errors name, so a test that does not compile is shown on its cell as you type.
import { t } from "./text.js";
import { el, button, removeButton } from "./dom.js";

const TYPING_MS = 500;

// A row's value for an output column: a price that reads as a number is one; an empty optional one goes.
function outputValue(output, text) {
  const trimmed = text.trim();
  if (output.type === "number or expression" && /^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  return trimmed;
}

/**
 * The grid of ``grid`` (the server's view of one table). ``ctx``: ``{canEdit, change(edits, done, quiet),
 * errors(), name}``; ``change`` answers whether the draft took it; a quiet change does not redraw the builder.
 */
export function tableGrid(grid, ctx) {
  const at = grid.at;
  const pending = new Map(); // a cell's path -> its timer and the edit it will send
  const listId = `grid-inputs-${Math.random().toString(36).slice(2, 8)}`;
  const wrapper = el("div", { class: "table-grid", "data-grid": grid.path });
  const problems = el("ul", { class: "grid-problems", "aria-live": "polite" });

  function flush() {
    const edits = [];
    for (const [path, job] of pending) { clearTimeout(job.timer); edits.push(job.edit); pending.delete(path); }
    return edits.length ? ctx.change(edits, t("Table changed."), true) : Promise.resolve(true);
  }

  // A cell's edit waits until typing pauses (or the cell is left), then goes to the draft.
  function typed(path, edit) {
    const job = pending.get(path);
    if (job) clearTimeout(job.timer);
    pending.set(path, { edit, timer: setTimeout(flush, TYPING_MS) });
  }

  async function structural(edits, done) {
    await flush();
    return ctx.change(edits, done, false);
  }

  function cellInput(value, path, label, edit) {
    const input = el("input", { type: "text", value, "aria-label": label, "data-path": path, class: "grid-cell", spellcheck: "false" });
    if (!ctx.canEdit) { input.readOnly = true; return input; }
    input.addEventListener("input", () => typed(path, edit(input.value)));
    input.addEventListener("change", () => { if (pending.has(path)) flush(); });
    return input;
  }

  const rows = grid.rows;
  const head = el("tr", {}, el("th", { scope: "col" }, "#"));
  grid.inputs.forEach((input, column) => {
    const control = cellInput(input.value, input.path, t("Input column %(n)d", { n: column + 1 }),
      (text) => ({ op: "set", path: [...at, "inputs", column], value: text.trim() }));
    control.setAttribute("list", listId);
    const cell = el("th", { scope: "col", class: "grid-input" }, control);
    if (ctx.canEdit && grid.inputs.length > 1) {
      cell.append(removeButton(t("Remove input column %(n)d", { n: column + 1 }), () => structural([
        { op: "delete", path: [...at, "inputs", column] },
        ...rows.filter((row) => row.cells.length > column).map((row) => ({ op: "delete", path: [...at, "rows", row.index, "when", column] })),
      ], t("Column %(n)d removed.", { n: column + 1 })), "×"));
    }
    head.append(cell);
  });
  for (const output of grid.outputs) head.append(el("th", { scope: "col", class: "grid-output" }, t(output.label)));
  if (ctx.canEdit) head.append(el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, t("Row actions"))));

  const body = el("tbody");
  rows.forEach((row, position) => {
    const number = position + 1;
    const line = el("tr", { "data-row": String(row.index), "data-path": row.path }, el("th", { scope: "row" }, String(number)));
    const controls = {}; // output key -> its control: what the row gives now, typed into or not
    row.cells.forEach((cell, column) => {
      const name = grid.inputs[column] ? grid.inputs[column].value : t("(no input)");
      line.append(el("td", {}, cellInput(cell.value, cell.path, t("Row %(row)d, %(column)s", { row: number, column: name }),
        (text) => ({ op: "set", path: [...at, "rows", row.index, "when", column], value: text.trim() || "-" }))));
    });
    for (const output of grid.outputs) {
      const current = row.outputs[output.key];
      const label = t("Row %(row)d, %(column)s", { row: number, column: t(output.label) });
      const path = current.at;
      const edit = (text) => (text.trim() === "" && current.value !== "" && output.key !== "reason"
        ? { op: "delete", path } : { op: "set", path, value: outputValue(output, text) });
      let control;
      if (output.type === "choice") {
        control = el("select", { "aria-label": label, "data-path": current.path, class: "grid-cell", disabled: !ctx.canEdit });
        const choices = output.options.includes(current.value) || !current.value ? output.options : [current.value, ...output.options];
        for (const choice of choices) control.append(el("option", { value: choice }, choice));
        control.value = current.value;
        control.addEventListener("change", () => ctx.change([edit(control.value)], t("Row %(row)d changed.", { row: number }), true));
      } else {
        control = cellInput(current.value, current.path, label, edit);
      }
      controls[output.key] = control;
      line.append(el("td", { class: "grid-output" }, control));
    }
    if (ctx.canEdit) {
      const actions = el("td", { class: "grid-actions" });
      if (position > 0) actions.append(button("↑", () => structural([{ op: "move", path: [...at, "rows"], index: row.index, to: row.index - 1 }],
        t("Row %(row)d moved up.", { row: number })), { "aria-label": t("Move row %(row)d up", { row: number }) }));
      if (position < rows.length - 1) actions.append(button("↓", () => structural([{ op: "move", path: [...at, "rows"], index: row.index, to: row.index + 1 }],
        t("Row %(row)d moved down.", { row: number })), { "aria-label": t("Move row %(row)d down", { row: number }) }));
      actions.append(button("+", () => structural([{ op: "insert", path: [...at, "rows"], index: row.index + 1, value: copyOf(controls) }],
        t("Row %(row)d added.", { row: number + 1 })), { "aria-label": t("Add a row below row %(row)d", { row: number }) }));
      if (rows.length > 1) {
        actions.append(removeButton(t("Remove row %(row)d", { row: number }), () => structural([{ op: "delete", path: [...at, "rows", row.index] }],
          t("Row %(row)d removed.", { row: number })), "×"));
      }
      line.append(actions);
    }
    body.append(line);
  });

  // A new row matches anything until its tests are written, and gives what the row above it gives.
  function copyOf(controls) {
    const value = { when: grid.inputs.map(() => "-") };
    for (const output of grid.outputs) {
      const text = controls[output.key].value;
      if (text.trim() !== "") value[output.key] = outputValue(output, text);
    }
    return value;
  }

  const table = el("table", { class: "grid" }, el("thead", {}, head), body);
  wrapper.append(el("div", { class: "scroll" }, table));
  wrapper.append(el("datalist", { id: listId }, ...grid.suggestions.map((s) => el("option", { value: s }))));
  if (ctx.canEdit) {
    const expression = el("input", { type: "text", list: listId, placeholder: grid.suggestions[0] || "", "aria-label": t("Input of the new column") });
    wrapper.append(el("div", { class: "buttons grid-tools" },
      expression,
      button(t("Add a column"), () => {
        const value = expression.value.trim();
        if (!value) { expression.focus(); return; }
        structural([
          { op: "insert", path: [...at, "inputs"], value },
          ...rows.map((row) => ({ op: "insert", path: [...at, "rows", row.index, "when"], value: "-" })),
        ], t("Column %(input)s added.", { input: value }));
      })));
  }
  wrapper.append(problems);

  // The draft's errors on the cells they name; the rest of this table's below it.
  function mark() {
    const mine = ctx.errors().filter((e) => e.path === grid.path || e.path.startsWith(`${grid.path}.`) || e.path.startsWith(`${grid.path}[`));
    const onCell = new Set();
    for (const control of wrapper.querySelectorAll("[data-path].grid-cell")) {
      const found = mine.filter((e) => e.path === control.dataset.path);
      control.classList.toggle("invalid", found.length > 0);
      if (found.length) {
        control.setAttribute("aria-invalid", "true");
        control.title = found.map((e) => e.message).join("\n");
        found.forEach((e) => onCell.add(e));
      } else {
        control.removeAttribute("aria-invalid");
        control.removeAttribute("title");
      }
    }
    problems.replaceChildren(...mine.map((e) => el("li", { class: onCell.has(e) ? "on-cell" : "" }, `${e.path}: ${e.message}`)));
  }
  mark();
  return { element: wrapper, mark, flush };
}
