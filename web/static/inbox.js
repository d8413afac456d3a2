// Progressive enhancement: a "select all" box for bulk approve. Without
// JavaScript the page works the same; the box simply stays hidden.
document.addEventListener("DOMContentLoaded", () => {
  const all = document.getElementById("select-all");
  if (!all) return;
  const boxes = () => document.querySelectorAll('input[name="task_ids"]');
  all.hidden = false;
  all.addEventListener("change", () => boxes().forEach((box) => { box.checked = all.checked; }));
});
