// What the designer's scripts say, in the reader's language.
//
// The page embeds <script type="application/json" id="oms-text"> with the signed-in person's
// translations of every message the scripts use (designer/js_text.py lists them, marked for the
// gettext catalogue, so scripts/translations extracts them with the pages' own). A message is
// written in English in the script, with %(name)s placeholders like the Python side's; t() looks
// it up and fills it in. A message missing from the table is shown as written.
let table = null;

function messages() {
  if (table === null) {
    const element = document.getElementById("oms-text");
    try {
      table = element ? JSON.parse(element.textContent) : {};
    } catch (error) {
      table = {};
    }
  }
  return table;
}

function fill(text, values) {
  return text.replace(/%\((\w+)\)[sd]|%%/g, (match, name) => (match === "%%" ? "%" : String(values[name] ?? "")));
}

/** ``message`` in the page's language, its %(name)s placeholders filled from ``values``. */
export function t(message, values) {
  const text = messages()[message] || message;
  return values ? fill(text, values) : text;
}

/** As t(), the singular or plural message by ``n`` (also given as %(num)d). */
export function tn(singular, plural, n, values) {
  return t(n === 1 ? singular : plural, { num: n, ...(values || {}) });
}

/** A message marked for translation where it is defined, translated where it is shown (Python's N_). */
export function N_(message) {
  return message;
}
