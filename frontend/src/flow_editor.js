// The flow editor on the diagram: add a step after another, connect outcomes, delete a step
// (its references shown first), set waits in words. The layout is dagre's (bundled, offline).
//
// Like the rule and form builders (builder.js) it edits the one draft in the text editor: it
// reads the flow from the server (/definitions/flow-structure) and changes it only by sending a
// change (/definitions/flow-change), which the server writes into the YAML in place
// (engine/yaml_edit.py, comments kept); the new text goes back into the text editor.
import dagre from "@dagrejs/dagre";
import { t, tn } from "./text.js";
import { draftOf } from "./draft.js";

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
  const csrf = tabs.dataset.csrf;
  const canEdit = tabs.dataset.canEdit === "yes";
  let flow = null;
  let selected = null;

  const draft = draftOf(pane, csrf);
  const editorView = draft.editorView;
  const putText = draft.putText;
  const post = (url, payload) => draft.post(url, payload, false);

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
    say(t("Reading the flow…"));
    try {
      const answer = await post("/definitions/flow-structure", {});
      flow = answer.flow;
      say("");
    } catch (error) {
      flow = null;
      say(t("Could not read the flow: %(problem)s", { problem: error.message || error }), "error");
    }
    draw();
  }

  async function change(payload, done) {
    try {
      const answer = await post("/definitions/flow-change", { change: payload });
      putText(answer.text);
      flow = answer.flow;
      const problems = answer.errors.length;
      say(problems ? `${done} ${tn("%(num)d problem to fix: see the steps marked ⚠.", "%(num)d problems to fix: see the steps marked ⚠.", problems)}`
        : `${done} ${t("The flow is valid.")}`, problems ? "error" : "ok");
      draw();
      return true;
    } catch (error) {
      say(t("Not changed: %(problem)s", { problem: error.message || error }), "error");
      return false;
    }
  }

  // ---- the diagram ------------------------------------------------------------------------------

  function draw() {
    canvas.replaceChildren();
    side.replaceChildren();
    if (!flow) return;
    if (!flow.readable) { say(t("Fix the text first: %(problem)s", { problem: flow.problem }), "error"); return; }
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
      width: size.width, height: size.height, role: "group", "aria-label": t("Flow %(name)s", { name: flow.name || "" }) });
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
        "aria-label": `${t("Step %(step)s (%(type)s)", { step: step.id, type: step.type })}${step.title ? `: ${step.title}` : ""}${step.errors.length ? `, ${tn("%(num)d problem", "%(num)d problems", step.errors.length)}` : ""}`,
      });
      group.append(svg("rect", { width: NODE_W, height: NODE_H, rx: step.type === "switch" ? 2 : 8 }));
      group.append(svg("text", { x: 10, y: 19, class: "fe-id" }, step.id));
      if (step.title && !step.errors.length) group.append(svg("title", {}, step.title));
      const detail = step.activity || step.method || step.status || "";
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
    else side.append(el("p", { class: "hint", text: t("Click a step to change it, add a step after it or delete it.") }));
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
      select.prepend(el("option", { value, text: t("%(step)s (missing)", { step: value }), selected: true }));
    }
    return select;
  }

  function stepPanel(step) {
    const box = el("div", { class: "fe-step", "data-step": step.id });
    box.append(el("h3", { tabindex: -1, text: t("Step %(step)s", { step: step.id }) }));
    box.append(el("p", { class: "fe-kind", text: [step.type, step.activity, step.method, step.status && t("status %(status)s", { status: step.status }), step.title].filter(Boolean).join(" · ") }));
    box.append(titleForm(step));
    if (step.errors.length) {
      box.append(el("ul", { class: "fe-errors", role: "list" }, ...step.errors.map((e) => el("li", { text: `${e.path}: ${e.message}` }))));
    }
    if (step.outcomes.length) {
      const list = el("table", { class: "fe-outcomes" });
      for (const outcome of step.outcomes) {
        const select = targetSelect(t("Outcome %(outcome)s of %(step)s goes to", { outcome: outcome.label, step: step.id }), outcome.target);
        select.disabled = !canEdit;
        select.addEventListener("change", () => change({ op: "connect", step: step.id, outcome: outcome.key, target: select.value },
          t("%(step)s %(outcome)s now goes to %(target)s.", { step: step.id, outcome: outcome.label, target: select.value })));
        list.append(el("tr", {}, el("th", { scope: "row", text: outcome.label }), el("td", {}, "→ ", select)));
      }
      box.append(el("h4", { text: t("Outcomes") }), list);
    }
    for (const wait of step.durations) {
      const input = el("input", { type: "text", value: wait.words, placeholder: t("e.g. 3 days"), "aria-label": `${wait.field} of ${step.id}`, readonly: !canEdit });
      const form = el("form", { class: "fe-duration" }, el("label", { text: `${wait.field === "due" ? t("Due in") : wait.field === "timeout" ? t("Times out after") : t("Escalation due in")} ` }, input));
      if (canEdit) form.append(el("button", { type: "submit", class: "small secondary", text: t("Set") }));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        change({ op: "duration", step: step.id, field: wait.field, words: input.value },
          t("%(step)s %(field)s set to %(words)s.", { step: step.id, field: wait.field, words: input.value }));
      });
      box.append(form);
    }
    if (step.references.length) {
      box.append(el("h4", { text: t("Led to from") }),
        el("ul", { class: "fe-references" }, ...step.references.map((r) => el("li", { text: r.step ? `${r.step} · ${r.outcome}` : t("the start of the flow") }))));
    }
    if (canEdit) {
      box.append(insertForm(step), deleteForm(step));
    }
    return box;
  }

  function field(label, control) { return el("label", { class: "fe-field" }, el("span", { text: label }), control); }

  // The title people see for the step (the inbox's task, the order's timeline); empty: none.
  function titleForm(step) {
    const input = el("input", { type: "text", value: step.title || "", "aria-label": t("Title of step %(step)s", { step: step.id }), readonly: !canEdit, maxlength: 200 });
    const form = el("form", { class: "fe-title" }, el("label", { class: "fe-field" }, el("span", { text: t("Title") }), input));
    if (!canEdit) return form;
    form.append(el("button", { type: "submit", class: "small secondary", text: t("Set title") }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const title = input.value.trim();
      change({ op: "title", step: step.id, title },
        title ? t("Title of %(step)s set to “%(title)s”.", { step: step.id, title }) : t("Title of %(step)s removed.", { step: step.id }));
    });
    return form;
  }

  function insertForm(step) {
    const form = el("form", { class: "fe-insert" });
    form.append(el("h4", { text: t("Add a step after %(step)s", { step: step.id }) }));
    if (!step.outcomes.length) { form.append(el("p", { class: "hint", text: t("An end step leads nowhere.") })); return form; }
    const after = el("select", {}, ...step.outcomes.map((o) => el("option", { value: o.key, text: t("%(outcome)s (now → %(target)s)", { outcome: o.label, target: o.target }) })));
    const type = el("select", {}, ...flow.catalogue.types.map((kind) => el("option", { value: kind.type, text: `${kind.type}: ${t(kind.summary)}` })));
    const id = el("input", { type: "text", pattern: "[a-z][a-z0-9_]*", required: true });
    const title = el("input", { type: "text" });
    const stepStatus = el("input", { type: "text", pattern: "[a-z][a-z0-9_]*" });
    const activity = el("select", {}, ...flow.catalogue.activities.map((a) => el("option", { value: a.name, text: a.name, title: a.summary })));
    const role = el("select", {}, ...flow.catalogue.roles.map((r) => el("option", { value: r, text: r, selected: r === "operator" })));
    const due = el("input", { type: "text", value: "1 day", placeholder: t("e.g. 4 hours") });
    const reject = targetSelect(t("On reject go to"), "", [{ value: "", text: t("(where this outcome led)") }]);
    const event = el("input", { type: "text", pattern: "[a-z][a-z0-9_]*" });
    const timeout = el("input", { type: "text", value: "1 day" });
    const when = el("input", { type: "text", value: "true" });
    const rules = el("input", { type: "text" });
    const http = httpFields();
    const parts = {
      approval: [field(t("Who decides"), role), field(t("Due in"), due), field(t("On reject go to"), reject)],
      activity: [field(t("Activity"), activity)],
      wait: [field(t("Event waited for"), event), field(t("Times out after"), timeout)],
      switch: [field(t("Condition"), when)],
      audit: [field(t("Rule set"), rules)],
      http: http.parts,
      end: [],
    };
    const extra = el("div", { class: "fe-extra" });
    const showExtra = () => extra.replaceChildren(...parts[type.value]);
    type.addEventListener("change", showExtra);
    showExtra();
    form.append(field(t("After the outcome"), after), field(t("Type of the new step"), type), field(t("Id of the new step"), id),
      field(t("Title"), title), field(t("Status shown on the order"), stepStatus), extra,
      el("button", { type: "submit", text: t("Add step") }));
    form.addEventListener("submit", async (submitted) => {
      submitted.preventDefault();
      const spec = { type: type.value, id: id.value.trim(), title: title.value.trim() || undefined, status: stepStatus.value.trim() || undefined };
      if (type.value === "approval") Object.assign(spec, { role: role.value, due: due.value, reject: reject.value || undefined });
      if (type.value === "activity") spec.activity = activity.value;
      if (type.value === "wait") Object.assign(spec, { event: event.value.trim(), timeout: timeout.value });
      if (type.value === "switch") spec.when = when.value;
      if (type.value === "audit") spec.rules = rules.value.trim();
      if (type.value === "http") Object.assign(spec, http.spec());
      const label = step.outcomes.find((o) => o.key === after.value).label;
      if (await change({ op: "insert_after", step: step.id, outcome: after.value, new: spec },
        t("Step %(new)s added after %(step)s (%(outcome)s).", { new: spec.id, step: step.id, outcome: label }))) {
        selected = spec.id;
        draw();
      }
    });
    return form;
  }

  // An http step: the method, where it goes (a named endpoint and a path, or an https URL), an optional
  // body, the values saved from its answer, and which error outcomes lead elsewhere than `next`.
  function httpFields() {
    const method = el("select", {}, ...flow.catalogue.http_methods.map((m) => el("option", { value: m, text: m, selected: m === "POST" })));
    const endpoint = el("input", { type: "text", pattern: "[a-z][a-z0-9_]*", placeholder: t("e.g. fraud") });
    const path = el("input", { type: "text", placeholder: "/v1/score/{{ order.id | urlencode }}" });
    const url = el("input", { type: "url", placeholder: "https://risk.example.com/v1/score" });
    const body = el("textarea", { rows: 3, placeholder: '{"order": {{ order.id | tojson }}}' });
    const pairs = el("div", { class: "fe-pairs" });
    const addPair = () => {
      const number = pairs.children.length + 1;
      pairs.append(el("div", { class: "fe-pair" },
        el("input", { type: "text", pattern: "[a-z][a-z0-9_]*", "aria-label": t("Name of saved value %(num)s", { num: number }), placeholder: t("e.g. score") }),
        el("input", { type: "text", "aria-label": t("Expression of saved value %(num)s", { num: number }), placeholder: "body.score" })));
    };
    addPair();
    const more = el("button", { type: "button", class: "small secondary", text: t("Save another value"), onclick: addPair });
    const errors = el("input", { type: "text", placeholder: t("e.g. 404, 5xx, timeout") });
    const errorTo = targetSelect(t("On an error go to"), "", [{ value: "", text: t("(where this outcome led)") }]);
    const parts = [
      field(t("Method"), method),
      field(t("Endpoint (named in OMS_HTTP_ENDPOINTS)"), endpoint),
      field(t("Path after the endpoint"), path),
      field(t("Or an https URL"), url),
      field(t("Body (optional)"), body),
      el("fieldset", { class: "fe-save" }, el("legend", { text: t("Saved from the answer (results.<step>.<name>)") }), pairs, more),
      field(t("Errors that go elsewhere"), errors),
      field(t("On an error go to"), errorTo),
    ];
    const spec = () => ({
      method: method.value,
      endpoint: endpoint.value.trim() || undefined,
      path: path.value.trim() || undefined,
      url: url.value.trim() || undefined,
      body: body.value.trim() ? body.value : undefined,
      save: [...pairs.children].map((row) => row.querySelectorAll("input"))
        .filter(([key, expression]) => key.value.trim() || expression.value.trim())
        .map(([key, expression]) => ({ key: key.value.trim(), expression: expression.value.trim() })),
      on_error: errors.value.split(",").map((e) => e.trim()).filter(Boolean),
      on_error_to: errorTo.value || undefined,
    });
    return { parts, spec };
  }

  function deleteForm(step) {
    const box = el("div", { class: "fe-delete" });
    const ask = el("button", { type: "button", class: "secondary danger", text: t("Delete step %(step)s…", { step: step.id }) });
    ask.addEventListener("click", () => {
      const others = flow.steps.filter((s) => s.id !== step.id);
      const reconnect = el("select", { "aria-label": t("Steps that led to %(step)s now go to", { step: step.id }) },
        el("option", { value: "", text: t("(nowhere: I will connect them myself)") }),
        ...others.map((s) => el("option", { value: s.id, text: s.id })));
      const firstTarget = step.outcomes.map((o) => o.target).find((t) => t && t !== step.id);
      if (firstTarget) reconnect.value = firstTarget;
      const confirm = el("button", { type: "button", class: "danger", text: t("Delete %(step)s", { step: step.id }) });
      confirm.addEventListener("click", () => change({ op: "delete", step: step.id, reconnect_to: reconnect.value || null },
        t("Step %(step)s deleted.", { step: step.id })));
      const refs = step.references.length
        ? el("ul", { class: "fe-references" }, ...step.references.map((r) => el("li", { text: `${r.path}${r.step ? ` (${r.step} · ${r.outcome})` : ""}` })))
        : el("p", { text: t("No step leads to it.") });
      box.replaceChildren(el("p", { role: "alert", text: tn("%(num)d reference to %(step)s:", "%(num)d references to %(step)s:", step.references.length, { step: step.id }) }),
        refs, field(t("They now go to"), reconnect), confirm);
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
