'use strict';
// Checks resources against the official FHIR R4 JSON schema.
//
//   node validate.cjs NPM_DIR FILE
//
// FILE holds a JSON array of {"label": "...", "resource": {...}}: what a test collected from
// the server's responses. Prints one line per error and a summary; exits 1 when any failed.
const fs = require('node:fs');
const { load } = require('./r4schema.cjs');

const [npmDir, file] = process.argv.slice(2);
const check = load(npmDir);
const items = JSON.parse(fs.readFileSync(file, 'utf8'));
let failed = 0;
for (const { label, resource } of items) {
  const errors = check(resource);
  if (errors.length > 0) {
    failed++;
    for (const e of errors.slice(0, 20)) {
      console.log(`FAIL ${label}: ${e}`);
    }
  }
}
console.log(`FHIR R4 schema: ${items.length - failed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
