// Zoom for the designer's flow diagrams (the SVG is drawn on the server).
//
// Every [data-role=diagram] frame gets its toolbar (the [data-role=diagram-tools]
// before it): zoom out and in, fit to the screen, actual size; Ctrl + wheel
// zooms too. The scale survives the editor replacing the diagram as the text
// changes. A highlighted step (an order's current step) is scrolled into view.
import { t } from "./text.js";

const STEPS = [0.25, 0.33, 0.5, 0.67, 0.8, 1, 1.25, 1.5, 2, 3];

function setup(frame, tools) {
  let scale = 1;
  let mode = frame.dataset.initial || "width"; // fit | width | scale
  const level = tools.querySelector("[data-role=zoom-level]");

  const svg = () => frame.querySelector("svg.flow-diagram");
  const size = (element) => ({
    width: Number(element.dataset.width) || element.viewBox.baseVal.width,
    height: Number(element.dataset.height) || element.viewBox.baseVal.height,
  });
  const fitScale = (whole) => {
    const element = svg();
    if (!element) return 1;
    const { width, height } = size(element);
    const room = frame.clientWidth - 2;
    const tall = Math.max(240, window.innerHeight - Math.max(frame.getBoundingClientRect().top, 0) - 16);
    const fit = whole ? Math.min(room / width, tall / height) : room / width;
    return Math.min(Math.max(fit, 0.1), whole ? 1.5 : 1);
  };

  function apply(keepCentre) {
    const element = svg();
    if (!element) return;
    if (mode === "fit") scale = fitScale(true);
    if (mode === "width") scale = fitScale(false);
    const { width, height } = size(element);
    const centre = keepCentre && {
      x: (frame.scrollLeft + frame.clientWidth / 2) / Math.max(frame.scrollWidth, 1),
      y: (frame.scrollTop + frame.clientHeight / 2) / Math.max(frame.scrollHeight, 1),
    };
    element.setAttribute("width", String(Math.round(width * scale)));
    element.setAttribute("height", String(Math.round(height * scale)));
    frame.dataset.scale = scale.toFixed(3);
    if (level) {
      const percent = Math.round(scale * 100);
      level.textContent = `${percent}%`;
      level.title = t("Shown at %(percent)d%% of its actual size", { percent });
    }
    if (centre) {
      frame.scrollLeft = centre.x * frame.scrollWidth - frame.clientWidth / 2;
      frame.scrollTop = centre.y * frame.scrollHeight - frame.clientHeight / 2;
    }
  }

  function zoom(direction) {
    const next = direction > 0 ? STEPS.find((s) => s > scale + 0.001) : [...STEPS].reverse().find((s) => s < scale - 0.001);
    mode = "scale";
    scale = next || scale;
    apply(true);
  }

  tools.hidden = false;
  tools.addEventListener("click", (event) => {
    const button = event.target.closest("[data-zoom]");
    if (!button) return;
    const what = button.dataset.zoom;
    if (what === "in") zoom(1);
    if (what === "out") zoom(-1);
    if (what === "fit") { mode = "fit"; apply(false); }
    if (what === "actual") { mode = "scale"; scale = 1; apply(true); }
  });
  frame.addEventListener("wheel", (event) => {
    if (!event.ctrlKey) return;
    event.preventDefault();
    zoom(event.deltaY < 0 ? 1 : -1);
  }, { passive: false });
  // The editor swaps the SVG as the text changes: keep the chosen scale.
  new MutationObserver(() => apply(false)).observe(frame, { childList: true });
  window.addEventListener("resize", () => { if (mode !== "scale") apply(false); });
  apply(false);
  const current = frame.querySelector("g.node.current");
  if (current) {
    const box = current.getBoundingClientRect();
    const outer = frame.getBoundingClientRect();
    frame.scrollLeft += box.left - outer.left - frame.clientWidth / 2 + box.width / 2;
    frame.scrollTop += box.top - outer.top - frame.clientHeight / 2 + box.height / 2;
  }
}

for (const frame of document.querySelectorAll("[data-role=diagram]")) {
  const tools = frame.parentElement && frame.parentElement.querySelector("[data-role=diagram-tools]");
  if (tools) setup(frame, tools);
}
