// The one draft the editor page holds: the text editor's text (CodeMirror, or the plain textarea without it).
// The builders and the flow editor read it, send it with a change, and put the changed text back.

/** The draft of the editor pane ``pane``, and the page's requests that send it (with the CSRF token ``csrf``). */
export function draftOf(pane, csrf) {
  const textarea = pane.querySelector("textarea");
  const editorView = () => window.omsEditor || null;

  function currentText() {
    const view = editorView();
    return view ? view.state.doc.toString() : textarea.value;
  }

  // Only the changed middle of the text is replaced, so the editor's undo and position survive.
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

  // POST the draft and ``payload``; the answer, or an Error saying why not (with the field it names, if
  // ``naming``: the flow editor's messages name their definition path themselves).
  async function post(url, payload, naming = true) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify({ text: currentText(), ...payload }),
      credentials: "same-origin",
    });
    let answer = {};
    try { answer = await response.json(); } catch (error) { answer = {}; }
    if (!response.ok) {
      const where = naming && answer.field ? ` (${answer.field})` : "";
      throw new Error(`${answer.detail || response.statusText}${where}`);
    }
    return answer;
  }

  return { editorView, currentText, putText, post };
}
