// A real FHIR client (fhir-kit-client) against fsecgm's FHIR API, run by
// the Go test TestFHIRKitClient with FHIR_BASE, FHIR_TOKEN and
// FHIR_PATIENT in the environment. It reads the CapabilityStatement,
// searches a patient's GMI Observations page by page, reads each one by
// id and prints what it saw as one JSON object on stdout.
import { Client } from 'fhir-kit-client';

const { FHIR_BASE: baseUrl, FHIR_TOKEN: bearerToken, FHIR_PATIENT: patient } = process.env;
if (!baseUrl || !bearerToken || !patient) {
  console.error('FHIR_BASE, FHIR_TOKEN and FHIR_PATIENT are required');
  process.exit(2);
}
const client = new Client({ baseUrl, bearerToken });

const meta = await client.capabilityStatement();
let bundle = await client.search({
  resourceType: 'Observation',
  searchParams: { patient: `Patient/${patient}`, code: 'http://loinc.org|97506-0', _sort: '-date', _count: 2 },
});
const total = bundle.total;
const searched = [];
let pages = 0;
while (bundle) {
  pages += 1;
  for (const e of bundle.entry ?? []) searched.push(e.resource.id);
  bundle = await client.nextPage({ bundle });
}
const read = [];
for (const id of searched) {
  const o = await client.read({ resourceType: 'Observation', id });
  read.push({
    id: o.id,
    code: o.code.coding[0].code,
    start: o.effectivePeriod.start,
    value: o.valueQuantity.value,
    unit: o.valueQuantity.code,
    profile: o.meta.profile[0],
  });
}
let refused = null;
try {
  await client.read({ resourceType: 'Observation', id: 'does-not-exist' });
} catch (err) {
  refused = { status: err.response?.status, type: err.response?.data?.resourceType, code: err.response?.data?.issue?.[0]?.code };
}
console.log(JSON.stringify({ fhirVersion: meta.fhirVersion, instantiates: meta.instantiates, total, pages, searched, read, refused }));
