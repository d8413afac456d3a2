// Progressive enhancement of the inbox. Without JavaScript the page works the
// same: the "select all" box stays hidden, and a reject without a comment is
// refused by the server with the reason.
document.addEventListener("DOMContentLoaded", () => {
  const all = document.getElementById("select-all");
  if (all) {
    const boxes = () => document.querySelectorAll('input[name="task_ids"]');
    all.hidden = false;
    all.addEventListener("change", () => boxes().forEach((box) => { box.checked = all.checked; }));
  }

  // Reject asks for a comment in the row and then for a confirmation, before anything is sent.
  document.querySelectorAll("form.decide").forEach((form) => {
    const comment = form.querySelector('input[name="comment"]');
    const reject = form.querySelector('button[name="decision"][value="reject"]');
    const ask = form.querySelector(".confirm-reject");
    if (!comment || !reject || !ask) return;
    const question = ask.querySelector(".question");
    const yes = ask.querySelector("button.confirm");
    const order = form.dataset.order;
    let confirmed = false;

    const close = () => {
      ask.hidden = true;
      ask.classList.remove("needs-comment");
      comment.removeAttribute("aria-invalid");
    };

    form.addEventListener("submit", (event) => {
      if (event.submitter !== reject || confirmed) return;
      event.preventDefault();
      const text = comment.value.trim();
      ask.hidden = false;
      if (!text) {
        ask.classList.add("needs-comment");
        question.textContent =
          ask.dataset.askComment || `Write in the comment why order ${order} is rejected, then press Reject again.`;
        yes.hidden = true;
        comment.setAttribute("aria-invalid", "true");
        comment.focus();
        return;
      }
      ask.classList.remove("needs-comment");
      comment.removeAttribute("aria-invalid");
      question.textContent = ask.dataset.askConfirm
        ? ask.dataset.askConfirm.replace("{comment}", text)
        : `Reject order ${order} with the comment “${text}”?`;
      yes.hidden = false;
      yes.focus();
    });
    yes.addEventListener("click", () => {
      confirmed = true;
      form.requestSubmit(reject);
    });
    ask.querySelector("button.keep").addEventListener("click", () => { close(); comment.focus(); });
    comment.addEventListener("input", () => { if (!yes.hidden || ask.classList.contains("needs-comment")) close(); });
  });
});
