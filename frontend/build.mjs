// Bundles src/editor.js, src/diagram.js, src/flow_editor.js and src/builder.js into ../designer/static/editor/ and writes the
// licences of every npm package that went into it beside it (LICENSES.txt).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import fs from "node:fs";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, "..", "designer", "static", "editor");
// editor.js: the editor page's CodeMirror and its steps; diagram.js: zoom for the flow diagrams (no packages);
// flow_editor.js: editing a flow on its diagram, laid out by @dagrejs/dagre; builder.js: the rule and form builders
// and the decision tables' grid (no packages). Each says what it says through src/text.js, in the reader's language.
const result = await build({
  entryPoints: {
    editor: path.join(here, "src/editor.js"),
    diagram: path.join(here, "src/diagram.js"),
    flow_editor: path.join(here, "src/flow_editor.js"),
    builder: path.join(here, "src/builder.js"),
  },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  legalComments: "none",
  metafile: true,
  outdir: out,
  logLevel: "info",
});

// node_modules/<pkg> or node_modules/@scope/<pkg> of every bundled input, once each.
const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (match) packages.add(match[1]);
}
const sections = [];
for (const name of [...packages].sort()) {
  const dir = path.join(here, "node_modules", name);
  const meta = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  const file = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
  const text = file ? fs.readFileSync(path.join(dir, file), "utf8").trim() : `License: ${meta.license || "see package"}`;
  sections.push(`${name} ${meta.version} (${meta.license || "unknown"})\n\n${text}\n`);
}
fs.writeFileSync(path.join(out, "LICENSES.txt"),
  "Third-party code bundled into editor.js and flow_editor.js (built from frontend/ by scripts/build-editor).\n\n" +
  sections.join("\n" + "-".repeat(72) + "\n\n"));
console.log(`licences of ${packages.size} packages written to LICENSES.txt`);
