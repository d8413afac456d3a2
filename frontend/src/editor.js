// The definition editor: CodeMirror 6 over the page's <textarea>.
//
// Without JavaScript the page is a plain form (validate, what-if, publish).
// With it, the textarea becomes an editor with YAML highlighting, completion
// and checks from the kind's JSON Schema, and the server's full validation
// (schema, semantics, references, stored test cases) as you type, debounced:
// each error is shown on its line, the test results and the flow diagram are
// refreshed. The textarea keeps the text, so the page's forms post it as is.
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
    status.textContent = `Could not check with the server: ${result.failed}`;
    status.className = "check-status error";
    return;
  }
  status.textContent = result.valid
    ? "Valid: no problems found."
    : `${result.errors.length} problem${result.errors.length === 1 ? "" : "s"} found.`;
  status.className = `check-status ${result.valid ? "ok" : "error"}`;
  // Server-rendered fragments: every definition-supplied text in them is escaped by the server.
  if (problems && typeof result.problems_html === "string") problems.innerHTML = result.problems_html;
  if (tests && typeof result.tests_html === "string") tests.innerHTML = result.tests_html;
  if (diagram && typeof result.diagram_html === "string") diagram.innerHTML = result.diagram_html;
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
    EditorView.contentAttributes.of({ "aria-label": textarea.getAttribute("aria-label") || "Definition text" }),
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
  for (const link of document.querySelectorAll("[data-goto-line]")) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      const range = lineRange(view.state.doc, Number(link.dataset.gotoLine));
      view.dispatch({ selection: { anchor: range.from }, scrollIntoView: true });
      view.focus();
    });
  }
}

for (const root of document.querySelectorAll("[data-editor]")) mount(root);
