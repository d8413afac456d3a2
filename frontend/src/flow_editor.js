// The flow editor on the diagram: add a step after another, connect outcomes, delete a step
// (its references shown first), set waits in words. The layout is dagre's (bundled, offline).
//
// Like the rule and form builders (builder.js) it edits the one draft in the text editor: it
// reads the flow from the server (/definitions/flow-structure) and changes it only by sending a
// change (/definitions/flow-change), which the server writes into the YAML in place
// (engine/yaml_edit.py, comments kept); the new text goes back into the text editor.
import dagre from "@dagrejs/dagre";

const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 170;
const NODE_H = 46;

const tabs = document.querySelector("[data-role=flow-tabs]");
if (tabs) setup(tabs);

function setup(tabs) {
  const pane = tabs.closest("[data-editor]") || document;
  const panel = pane.querySelector("[data-role=flow-editor]");
  const status = panel.querySelector("[data-role=flow-status]");
  const canvas = panel.querySelector("[data-role=flow-canvas]");
  const side = panel.querySelector("[data-role=flow-step]");
  const textarea = pane.querySelector("textarea");
  const csrf = tabs.dataset.csrf;
  const canEdit = tabs.dataset.canEdit === "yes";
  let flow = null;
  let selected = null;

  const editorView = () => window.omsEditor || null;
  const currentText = () => (editorView() ? editorView().state.doc.toString() : textarea.value);

  function putText(text) {
    const view = editorView();
    if (!view) { textarea.value = text; return; }
    const old = view.state.doc.toString();
    if (old === text) return;
    let start = 0;
    while (start < old.length && start < text.length && old[start] === text[start]) start += 1;
    let endOld = old.length;
    let endNew = text.length;
    while (endOld > start && endNew > start && old[endOld - 1] === text[endNew - 1]) { endOld -= 1; endNew -= 1; }
    view.dispatch({ changes: { from: start, to: endOld, insert: text.slice(start, endNew) } });
  }

  async function post(url, payload) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify({ text: currentText(), ...payload }),
      credentials: "same-origin",
    });
    let answer = {};
    try { answer = await response.json(); } catch (error) { answer = {}; }
    if (!response.ok) throw new Error(answer.detail || response.statusText);
    return answer;
  }

  function say(message, kind) {
    status.textContent = message;
    status.className = `flow-status ${kind || ""}`;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  async function load() {
    say("Reading the flow…");
    try {
      const answer = await post("/definitions/flow-structure", {});
      flow = answer.flow;
      say("");
    } catch (error) {
      flow = null;
      say(`Could not read the flow: ${error.message || error}`, "error");
    }
    draw();
  }

  async function change(payload, done) {
    try {
      const answer = await post("/definitions/flow-change", { change: payload });
      putText(answer.text);
      flow = answer.flow;
      const problems = answer.errors.length;
      say(problems ? `${done} ${problems} problem${problems === 1 ? "" : "s"} to fix: see the steps marked ⚠.`
        : `${done} The flow is valid.`, problems ? "error" : "ok");
      draw();
      return true;
    } catch (error) {
      say(`Not changed: ${error.message || error}`, "error");
      return false;
    }
  }

  // ---- the diagram ------------------------------------------------------------------------------

  function draw() {
    canvas.replaceChildren();
    side.replaceChildren();
    if (!flow) return;
    if (!flow.readable) { say(`Fix the text first: ${flow.problem}`, "error"); return; }
    const steps = new Map(flow.steps.map((s) => [s.id, s]));
    if (selected && !steps.has(selected)) selected = null;
    const graph = new dagre.graphlib.Graph({ multigraph: true });
    graph.setGraph({ rankdir: "TB", nodesep: 28, ranksep: 46, edgesep: 12, marginx: 12, marginy: 12 });
    graph.setDefaultEdgeLabel(() => ({}));
    for (const step of flow.steps) graph.setNode(step.id, { width: NODE_W, height: NODE_H });
    flow.steps.forEach((step) => {
      for (const outcome of step.outcomes) {
        if (!steps.has(outcome.target) || outcome.target === step.id) continue;
        graph.setEdge(step.id, outcome.target,
          { label: outcome.label.slice(0, 24), width: Math.min(outcome.label.length, 24) * 6.5, height: 14, labelpos: "c" },
          `${step.id}:${outcome.key}`);
      }
    });
    dagre.layout(graph);
    const size = graph.graph();
    const picture = svg("svg", { class: "flow-editor-diagram", viewBox: `0 0 ${size.width} ${size.height}`,
      width: size.width, height: size.height, role: "group", "aria-label": `Flow ${flow.name || ""}` });
    const defs = svg("defs");
    defs.append(marker());
    picture.append(defs);
    for (const edgeId of graph.edges()) {
      const edge = graph.edge(edgeId);
      const points = edge.points.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" L");
      picture.append(svg("path", { d: `M${points}`, class: "fe-edge", "marker-end": "url(#fe-arrow)" }));
      if (edge.label) picture.append(svg("text", { x: edge.x, y: edge.y + 4, class: "fe-edge-label" }, edge.label));
    }
    for (const step of flow.steps) {
      const box = graph.node(step.id);
      const group = svg("g", {
        class: `fe-node type-${step.type}${step.errors.length ? " has-errors" : ""}${step.id === selected ? " selected" : ""}${step.id === flow.start ? " start" : ""}`,
        transform: `translate(${box.x - NODE_W / 2},${box.y - NODE_H / 2})`,
        "data-step": step.id, tabindex: 0, role: "button",
        "aria-label": `Step ${step.id} (${step.type})${step.errors.length ? `, ${step.errors.length} problem${step.errors.length === 1 ? "" : "s"}` : ""}`,
      });
      group.append(svg("rect", { width: NODE_W, height: NODE_H, rx: step.type === "switch" ? 2 : 8 }));
      group.append(svg("text", { x: 10, y: 19, class: "fe-id" }, step.id));
      const detail = step.activity || step.status || "";
      group.append(svg("text", { x: 10, y: 36, class: "fe-type" }, `${step.type}${detail ? ` · ${detail}` : ""}`.slice(0, 30)));
      if (step.errors.length) {
        group.append(svg("text", { x: NODE_W - 8, y: 19, class: "fe-warn", "text-anchor": "end" }, `⚠ ${step.errors.length}`));
        group.append(svg("title", {}, step.errors.map((e) => `${e.path}: ${e.message}`).join("\n")));
      }
      const pick = () => { selected = step.id; draw(); side.querySelector("h3").focus(); };
      group.addEventListener("click", pick);
      group.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); pick(); } });
      picture.append(group);
    }
    canvas.append(picture);
    if (flow.general_errors.length) {
      canvas.append(el("ul", { class: "fe-general-errors" },
        ...flow.general_errors.map((e) => el("li", { text: `${e.path}: ${e.message}` }))));
    }
    if (selected) side.append(stepPanel(steps.get(selected)));
    else side.append(el("p", { class: "hint", text: "Click a step to change it, add a step after it or delete it." }));
  }

  function marker() {
    const arrow = svg("marker", { id: "fe-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
    arrow.append(svg("path", { d: "M0,0 L10,5 L0,10 z", class: "fe-arrowhead" }));
    return arrow;
  }

  // ---- the selected step ------------------------------------------------------------------------

  function targetSelect(label, value, extra) {
    const select = el("select", { "aria-label": label });
    for (const option of extra || []) select.append(el("option", { value: option.value, text: option.text }));
    for (const step of flow.steps) {
      select.append(el("option", { value: step.id, text: step.id, selected: step.id === value }));
    }
    if (value && !flow.steps.some((s) => s.id === value)) {
      select.prepend(el("option", { value, text: `${value} (missing)`, selected: true }));
    }
    return select;
  }

  function stepPanel(step) {
    const box = el("div", { class: "fe-step", "data-step": step.id });
    box.append(el("h3", { tabindex: -1, text: `Step ${step.id}` }));
    box.append(el("p", { class: "fe-kind", text: [step.type, step.activity, step.status && `status ${step.status}`, step.title].filter(Boolean).join(" · ") }));
    if (step.errors.length) {
      box.append(el("ul", { class: "fe-errors", role: "list" }, ...step.errors.map((e) => el("li", { text: `${e.path}: ${e.message}` }))));
    }
    if (step.outcomes.length) {
      const list = el("table", { class: "fe-outcomes" });
      for (const outcome of step.outcomes) {
        const select = targetSelect(`Outcome ${outcome.label} of ${step.id} goes to`, outcome.target);
        select.disabled = !canEdit;
        select.addEventListener("change", () => change({ op: "connect", step: step.id, outcome: outcome.key, target: select.value },
          `${step.id} ${outcome.label} now goes to ${select.value}.`));
        list.append(el("tr", {}, el("th", { scope: "row", text: outcome.label }), el("td", {}, "→ ", select)));
      }
      box.append(el("h4", { text: "Outcomes" }), list);
    }
    for (const wait of step.durations) {
      const input = el("input", { type: "text", value: wait.words, placeholder: "e.g. 3 days", "aria-label": `${wait.field} of ${step.id}`, readonly: !canEdit });
      const form = el("form", { class: "fe-duration" }, el("label", { text: `${wait.field === "due" ? "Due in" : wait.field === "timeout" ? "Times out after" : "Escalation due in"} ` }, input));
      if (canEdit) form.append(el("button", { type: "submit", class: "small secondary", text: "Set" }));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        change({ op: "duration", step: step.id, field: wait.field, words: input.value }, `${step.id} ${wait.field} set to ${input.value}.`);
      });
      box.append(form);
    }
    if (step.references.length) {
      box.append(el("h4", { text: "Led to from" }),
        el("ul", { class: "fe-references" }, ...step.references.map((r) => el("li", { text: r.step ? `${r.step} · ${r.outcome}` : "the start of the flow" }))));
    }
    if (canEdit) {
      box.append(insertForm(step), deleteForm(step));
    }
    return box;
  }

  function field(label, control) { return el("label", { class: "fe-field" }, el("span", { text: label }), control); }

  function insertForm(step) {
    const form = el("form", { class: "fe-insert" });
    form.append(el("h4", { text: `Add a step after ${step.id}` }));
    if (!step.outcomes.length) { form.append(el("p", { class: "hint", text: "An end step leads nowhere." })); return form; }
    const after = el("select", {}, ...step.outcomes.map((o) => el("option", { value: o.key, text: `${o.label} (now → ${o.target})` })));
    const type = el("select", {}, ...flow.catalogue.types.map((t) => el("option", { value: t.type, text: `${t.type}: ${t.summary}` })));
    const id = el("input", { type: "text", pattern: "[a-z][a-z0-9_]*", required: true });
    const title = el("input", { type: "text" });
    const stepStatus = el("input", { type: "text", pattern: "[a-z][a-z0-9_]*" });
    const activity = el("select", {}, ...flow.catalogue.activities.map((a) => el("option", { value: a.name, text: a.name, title: a.summary })));
    const role = el("select", {}, ...flow.catalogue.roles.map((r) => el("option", { value: r, text: r, selected: r === "operator" })));
    const due = el("input", { type: "text", value: "1 day", placeholder: "e.g. 4 hours" });
    const reject = targetSelect("On reject go to", "", [{ value: "", text: "(where this outcome led)" }]);
    const event = el("input", { type: "text", pattern: "[a-z][a-z0-9_]*" });
    const timeout = el("input", { type: "text", value: "1 day" });
    const when = el("input", { type: "text", value: "true" });
    const rules = el("input", { type: "text" });
    const parts = {
      approval: [field("Who decides", role), field("Due in", due), field("On reject go to", reject)],
      activity: [field("Activity", activity)],
      wait: [field("Event waited for", event), field("Times out after", timeout)],
      switch: [field("Condition", when)],
      audit: [field("Rule set", rules)],
      end: [],
    };
    const extra = el("div", { class: "fe-extra" });
    const showExtra = () => extra.replaceChildren(...parts[type.value]);
    type.addEventListener("change", showExtra);
    showExtra();
    form.append(field("After the outcome", after), field("Type of the new step", type), field("Id of the new step", id),
      field("Title", title), field("Status shown on the order", stepStatus), extra,
      el("button", { type: "submit", text: "Add step" }));
    form.addEventListener("submit", async (submitted) => {
      submitted.preventDefault();
      const spec = { type: type.value, id: id.value.trim(), title: title.value.trim() || undefined, status: stepStatus.value.trim() || undefined };
      if (type.value === "approval") Object.assign(spec, { role: role.value, due: due.value, reject: reject.value || undefined });
      if (type.value === "activity") spec.activity = activity.value;
      if (type.value === "wait") Object.assign(spec, { event: event.value.trim(), timeout: timeout.value });
      if (type.value === "switch") spec.when = when.value;
      if (type.value === "audit") spec.rules = rules.value.trim();
      const label = step.outcomes.find((o) => o.key === after.value).label;
      if (await change({ op: "insert_after", step: step.id, outcome: after.value, new: spec }, `Step ${spec.id} added after ${step.id} (${label}).`)) {
        selected = spec.id;
        draw();
      }
    });
    return form;
  }

  function deleteForm(step) {
    const box = el("div", { class: "fe-delete" });
    const ask = el("button", { type: "button", class: "secondary danger", text: `Delete step ${step.id}…` });
    ask.addEventListener("click", () => {
      const others = flow.steps.filter((s) => s.id !== step.id);
      const reconnect = el("select", { "aria-label": `Steps that led to ${step.id} now go to` },
        el("option", { value: "", text: "(nowhere: I will connect them myself)" }),
        ...others.map((s) => el("option", { value: s.id, text: s.id })));
      const firstTarget = step.outcomes.map((o) => o.target).find((t) => t && t !== step.id);
      if (firstTarget) reconnect.value = firstTarget;
      const confirm = el("button", { type: "button", class: "danger", text: `Delete ${step.id}` });
      confirm.addEventListener("click", () => change({ op: "delete", step: step.id, reconnect_to: reconnect.value || null },
        `Step ${step.id} deleted.`));
      const refs = step.references.length
        ? el("ul", { class: "fe-references" }, ...step.references.map((r) => el("li", { text: `${r.path}${r.step ? ` (${r.step} · ${r.outcome})` : ""}` })))
        : el("p", { text: "No step leads to it." });
      box.replaceChildren(el("p", { role: "alert", text: `${step.references.length} reference${step.references.length === 1 ? "" : "s"} to ${step.id}:` }),
        refs, field("They now go to", reconnect), confirm);
    });
    box.append(ask);
    return box;
  }

  // ---- tabs -------------------------------------------------------------------------------------

  function show(which) {
    const editing = which === "flow";
    for (const tab of tabs.querySelectorAll("[role=tab]")) tab.setAttribute("aria-selected", String(tab.dataset.tab === which));
    panel.hidden = !editing;
    pane.classList.toggle("flow-editing", editing);
    if (editing) load();
    else if (editorView()) editorView().focus();
  }

  tabs.hidden = false;
  tabs.addEventListener("click", (event) => {
    const tab = event.target.closest("[role=tab]");
    if (tab) show(tab.dataset.tab);
  });
}
