// Small DOM helpers of the builders (builder.js, table_grid.js): text only ever goes in as text.
import { t } from "./text.js";

// The builders sit inside the editor's form: their controls belong to no form (a form id nobody has), so they
// are never sent with the draft nor hold up its submission with their own checks.
export const NO_FORM = "builder-controls";

export function el(tag, attrs, ...children) {
  const element = document.createElement(tag);
  if (["input", "select", "textarea"].includes(tag)) element.setAttribute("form", NO_FORM);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") element.className = value;
    else if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "value") element.value = value;
    else if (key === "checked") element.checked = Boolean(value);
    else element.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function button(text, onclick, attrs) {
  return el("button", { type: "button", class: "secondary small", onclick, ...(attrs || {}) }, text);
}

// Removing asks once more on the button itself: "Remove" becomes "Really remove?".
export function removeButton(name, remove, text) {
  const control = button(text || t("Remove"), null, { class: "secondary small danger", "aria-label": name });
  control.addEventListener("click", () => {
    if (control.dataset.armed) { remove(); return; }
    control.dataset.armed = "yes";
    control.textContent = t("Really remove?");
    control.setAttribute("aria-label", t("%(name)s: click again to confirm", { name }));
  });
  return control;
}

export function labelled(text, control) {
  const id = `b-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return el("div", { class: "builder-field" }, el("label", { for: id }, text), control);
}

export function selectOf(options, value, attrs) {
  const select = el("select", attrs || {});
  for (const option of options) {
    const [optionValue, text] = Array.isArray(option) ? option : [option, option];
    select.append(el("option", { value: optionValue }, text));
  }
  if (value !== undefined && value !== null) select.value = value;
  return select;
}
