// Progressive enhancement for the order entry page: a conditional field shows
// only while its simple condition (data-show-when) holds. Without JavaScript
// every field shows, with a note saying when it is used. Either way the server
// decides: a field whose condition is false is dropped when the order is checked.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form.entry");
  if (!form) return;
  const conditional = Array.from(form.querySelectorAll("[data-show-when]"));
  if (!conditional.length) return;

  const valueOf = (rule) => {
    const control = form.elements.namedItem(rule.name);
    if (!control) return rule.default;
    if (control.type === "checkbox") return control.checked;
    return control.value === "" ? rule.default : control.value;
  };

  const update = () => conditional.forEach((element) => {
    let rule;
    try { rule = JSON.parse(element.dataset.showWhen); } catch { return; }
    const value = String(valueOf(rule));
    const hit = rule.values.some((v) => String(v) === value);
    const show = rule.negate ? !hit : hit;
    element.hidden = !show;
    element.classList.toggle("inapplicable", !show);
  });

  form.addEventListener("change", update);
  form.addEventListener("input", update);
  update();
});
