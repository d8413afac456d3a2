// The definition editor: CodeMirror 6 over the page's <textarea>.
//
// Without JavaScript the page is a plain form (validate, what-if, publish).
// With it, the textarea becomes an editor with YAML highlighting, completion
// and checks from the kind's JSON Schema, and the server's full validation
// (schema, semantics, references, stored test cases) as you type, debounced:
// each error is shown on its line, the test results and the flow diagram are
// refreshed. The textarea keeps the text, so the page's forms post it as is.
//
// Edits not yet saved are guarded: leaving by a link asks first (Stay, Save
// draft, Leave), closing or reloading the tab gets the browser's own warning.
// What-if runs in place (its result appears under its button) and Publish
// first shows the difference from the live version and asks for a note, in a
// dialog; without JavaScript the same steps are plain form posts.
import { EditorState } from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { syntaxHighlighting, defaultHighlightStyle, indentOnInput, bracketMatching } from "@codemirror/language";
import { autocompletion, completionKeymap } from "@codemirror/autocomplete";
import { linter, lintGutter, lintKeymap } from "@codemirror/lint";
import { yaml, yamlLanguage } from "@codemirror/lang-yaml";
import { yamlCompletion, yamlSchemaLinter } from "codemirror-json-schema/yaml";
import { stateExtensions, handleRefresh } from "codemirror-json-schema";
import { t, tn } from "./text.js";

const DEBOUNCE_MS = 400;

function readJson(id) {
  const element = document.getElementById(id);
  if (!element) return null;
  try {
    return JSON.parse(element.textContent);
  } catch (error) {
    return null;
  }
}

function lineRange(doc, number) {
  const line = doc.line(Math.min(Math.max(number || 1, 1), doc.lines));
  // An empty line still needs a range the gutter can mark.
  return { from: line.from, to: Math.max(line.to, line.from) };
}

function serverLinter(root, onResult) {
  const url = root.dataset.checkUrl;
  const token = root.dataset.csrf;
  let sequence = 0;
  return async (view) => {
    const text = view.state.doc.toString();
    const mine = ++sequence;
    root.setAttribute("aria-busy", "true");
    let body;
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": token },
        body: JSON.stringify({ text }),
        credentials: "same-origin",
      });
      body = await response.json();
      if (!response.ok) throw new Error(body.detail || response.statusText);
    } catch (error) {
      if (mine === sequence) onResult({ failed: String(error.message || error) });
      return [];
    } finally {
      if (mine === sequence) root.removeAttribute("aria-busy");
    }
    if (mine !== sequence || view.state.doc.toString() !== text) return [];
    onResult(body);
    return body.errors.map((error) => ({
      ...lineRange(view.state.doc, error.line),
      severity: "error",
      source: "server",
      message: `${error.path}: ${error.message}`,
    }));
  };
}

function renderResult(root, result) {
  const status = root.querySelector("[data-role=status]");
  const problems = document.querySelector("[data-role=problems]");
  const tests = document.querySelector("[data-role=tests]");
  const diagram = document.querySelector("[data-role=diagram]");
  if (result.failed) {
    status.textContent = t("Could not check with the server: %(problem)s", { problem: result.failed });
    status.className = "check-status error";
    return;
  }
  status.textContent = result.valid
    ? t("Valid: no problems found.")
    : tn("%(num)d problem found.", "%(num)d problems found.", result.errors.length);
  status.className = `check-status ${result.valid ? "ok" : "error"}`;
  // Server-rendered fragments: every definition-supplied text in them is escaped by the server.
  if (problems && typeof result.problems_html === "string") problems.innerHTML = result.problems_html;
  if (tests && typeof result.tests_html === "string") tests.innerHTML = result.tests_html;
  if (diagram && typeof result.diagram_html === "string") diagram.innerHTML = result.diagram_html;
}

async function postJson(url, token, payload) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "x-csrf-token": token },
    body: JSON.stringify(payload),
    credentials: "same-origin",
  });
  let body = {};
  try {
    body = await response.json();
  } catch (error) {
    body = {};
  }
  if (!response.ok) throw new Error(body.detail || response.statusText);
  return body;
}

function goToLine(view, number) {
  const range = lineRange(view.state.doc, number);
  view.dispatch({ selection: { anchor: range.from }, scrollIntoView: true });
  view.focus();
}

// Unsaved edits: the text differs from what the page was loaded with.
function guardUnsaved(form, isDirty) {
  let leaving = false;
  form.addEventListener("submit", () => { leaving = true; });
  window.addEventListener("beforeunload", (event) => {
    if (leaving || !isDirty()) return;
    event.preventDefault();
    event.returnValue = "";
  });
  const dialog = document.querySelector("[data-role=leave-dialog]");
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[href]");
    if (!link || event.defaultPrevented || leaving || !isDirty()) return;
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    if (link.target && link.target !== "_self") return;
    const href = link.getAttribute("href");
    if (!href || href.startsWith("#") || link.hasAttribute("download")) return;
    event.preventDefault();
    const go = () => { leaving = true; window.location.assign(link.href); };
    if (!dialog || typeof dialog.showModal !== "function") {
      if (window.confirm(t("Your edits are not saved. Leave this page and lose them?"))) go();
      return;
    }
    dialog.querySelector("[data-role=leave]").onclick = () => { dialog.close(); go(); };
    dialog.querySelector("[data-role=stay]").onclick = () => dialog.close();
    dialog.showModal();
    dialog.querySelector("[data-role=stay]").focus();
  });
}

function whatIfInPlace(root, form, view) {
  const button = form.querySelector("[data-role=run-whatif]");
  const target = document.querySelector("[data-role=whatif]");
  const last = form.querySelector("input[name=last]");
  if (!button || !target) return;
  if (last) {
    last.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); button.click(); }
    });
  }
  button.addEventListener("click", async (event) => {
    event.preventDefault();
    button.disabled = true;
    target.setAttribute("aria-busy", "true");
    target.replaceChildren(Object.assign(document.createElement("p"), { className: "hint", textContent: t("Running what-if…") }));
    try {
      const body = await postJson("/definitions/whatif", root.dataset.csrf, {
        text: view.state.doc.toString(),
        last: last ? last.value : "",
      });
      target.innerHTML = body.html; // rendered and escaped by the server
    } catch (error) {
      target.innerHTML = "";
      const p = document.createElement("p");
      p.className = "notice error";
      p.setAttribute("role", "alert");
      p.textContent = t("What-if did not run: %(problem)s", { problem: error.message || error });
      target.append(p);
    } finally {
      button.disabled = false;
      target.removeAttribute("aria-busy");
    }
    target.scrollIntoView({ block: "nearest", behavior: "smooth" });
  });
}

function publishWithDiff(root, form, view) {
  const button = form.querySelector("[data-role=publish]");
  const dialog = document.querySelector("[data-role=publish-dialog]");
  if (!button || !dialog || typeof dialog.showModal !== "function") return; // the plain form's step then
  dialog.addEventListener("close", () => { dialog.innerHTML = ""; });
  dialog.addEventListener("click", (event) => {
    if (event.target.closest("[data-role=close]")) dialog.close();
    const confirm = event.target.closest("[data-role=confirm-publish]");
    if (confirm) {
      const note = dialog.querySelector("[data-role=publish-note]");
      if (note && !note.value.trim()) {
        event.preventDefault();
        dialog.querySelector("[data-role=note-error]").hidden = false;
        note.setAttribute("aria-invalid", "true");
        note.focus();
      }
    }
  });
  button.addEventListener("click", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      const body = await postJson("/definitions/preview", root.dataset.csrf, { text: view.state.doc.toString() });
      dialog.innerHTML = body.html; // rendered and escaped by the server
    } catch (error) {
      dialog.innerHTML = '<p class="notice error" role="alert"></p><div class="buttons"><button type="button" data-role="close"></button></div>';
      dialog.querySelector("p").textContent = t("Could not prepare the publish: %(problem)s", { problem: error.message || error });
      dialog.querySelector("[data-role=close]").textContent = t("Close");
    } finally {
      button.disabled = false;
    }
    dialog.showModal();
    const focus = dialog.querySelector("[data-role=publish-note]") || dialog.querySelector("button");
    if (focus) focus.focus();
  });
}

function mount(root) {
  const textarea = root.querySelector("textarea");
  const schema = readJson("definition-schema");
  const readOnly = textarea.readOnly;
  const extensions = [
    lineNumbers(),
    highlightActiveLineGutter(),
    history(),
    drawSelection(),
    indentOnInput(),
    bracketMatching(),
    highlightActiveLine(),
    syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
    yaml(),
    lintGutter(),
    keymap.of([indentWithTab, ...defaultKeymap, ...historyKeymap, ...completionKeymap, ...lintKeymap]),
    EditorView.lineWrapping,
    EditorState.readOnly.of(readOnly),
    EditorView.contentAttributes.of({ "aria-label": textarea.getAttribute("aria-label") || t("Definition text") }),
    EditorView.updateListener.of((update) => {
      if (update.docChanged) textarea.value = update.state.doc.toString();
    }),
    linter(serverLinter(root, (result) => renderResult(root, result)), { delay: DEBOUNCE_MS }),
  ];
  if (schema) {
    extensions.push(
      stateExtensions(schema),
      yamlLanguage.data.of({ autocomplete: yamlCompletion() }),
      autocompletion(),
      linter(yamlSchemaLinter(), { needsRefresh: handleRefresh, delay: DEBOUNCE_MS }),
    );
  }
  const view = new EditorView({ doc: textarea.value, extensions });
  textarea.hidden = true;
  textarea.insertAdjacentElement("afterend", view.dom);
  root.classList.add("enhanced");
  // Tests and people can reach the editor's view (e.g. to move to a line).
  root.editorView = view;
  window.omsEditor = view;
  // Links to lines, also in the fragments the server sends as the text changes.
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("[data-goto-line]");
    if (!link) return;
    event.preventDefault();
    goToLine(view, Number(link.dataset.gotoLine));
  });
  const form = root.closest("form");
  if (form && !readOnly) {
    const loaded = textarea.value;
    guardUnsaved(form, () => view.state.doc.toString() !== loaded);
    whatIfInPlace(root, form, view);
    publishWithDiff(root, form, view);
  }
}

for (const root of document.querySelectorAll("[data-editor]")) mount(root);
