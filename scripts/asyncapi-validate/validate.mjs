// Validates an AsyncAPI document with @asyncapi/parser, the parser and ruleset `asyncapi validate`
// (the @asyncapi/cli) uses; a warning fails as with `--fail-severity=warn`.
// Usage: node validate.mjs FILE   (exit 0 valid, 1 invalid)
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';
import { readFileSync } from 'node:fs';
const file = process.argv[2];
const parser = new Parser();
const diagnostics = await parser.validate(readFileSync(file, 'utf8'));
let bad = 0;
for (const d of diagnostics) {
  const sev = ['error', 'warning', 'info', 'hint'][d.severity] ?? d.severity;
  console.log(`${file}: ${sev}: ${d.code}: ${d.message} at /${(d.path || []).join('/')}`);
  if (d.severity <= DiagnosticSeverity.Warning) bad++;
}
console.log(bad ? `${file}: ${bad} error(s)/warning(s)` : `${file}: valid AsyncAPI (${diagnostics.length} info/hint)`);
process.exit(bad ? 1 : 0);
