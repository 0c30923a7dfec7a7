-- +goose Up
-- Identifiers are unique per patient, not across patients (package
-- taccuino/records): an identifier or a sensor serial that one patient's
-- record holds never keeps another patient from using it, and a submission
-- can no longer learn, from a conflict, that another patient holds it.
-- Numbers 00080-00089 belong to the abuse and session rules of issue 14.
ALTER TABLE fhir_resources DROP CONSTRAINT fhir_resources_identifier_system_identifier_value_key;
ALTER TABLE fhir_resources ADD CONSTRAINT fhir_resources_patient_identifier
    UNIQUE (patient_id, identifier_system, identifier_value);
ALTER TABLE fhir_client_identifiers DROP CONSTRAINT fhir_client_identifiers_pkey;
ALTER TABLE fhir_client_identifiers ADD PRIMARY KEY (patient_id, identifier_system, identifier_value);

-- fsecgm's Device resources get the id fhir.DeviceResource now derives
-- from the patient and the serial (the first 32 hex digits of the SHA-256
-- of "6:device;32:<public id>;<length>:<serial>;"), was from the serial
-- only: the same serial in two records is two Devices. The identifiers a
-- submitter gave them, and the references to them in the patient's other
-- resources, follow. Ids of submitted Observations and DiagnosticReports
-- and of submitted readings are kept: they were handed to the submitters.
CREATE TEMPORARY TABLE device_ids ON COMMIT DROP AS
SELECT f.patient_id, f.id AS old_id,
       substr(encode(sha256(convert_to('6:device;32:' || p.public_id || ';' || octet_length(f.identifier_value)::text
           || ':' || f.identifier_value || ';', 'UTF8')), 'hex'), 1, 32) AS new_id
FROM fhir_resources f JOIN patients p ON p.id = f.patient_id
WHERE f.resource_type = 'Device' AND f.origin = 'fsecgm';

UPDATE fhir_client_identifiers c SET resource_id = d.new_id
FROM device_ids d WHERE c.resource_type = 'Device' AND c.resource_id = d.old_id AND c.patient_id = d.patient_id;

UPDATE fhir_resources f SET id = d.new_id
FROM device_ids d WHERE f.resource_type = 'Device' AND f.id = d.old_id AND f.patient_id = d.patient_id;

UPDATE fhir_resources o SET body = replace(o.body::text, '"Device/' || d.old_id || '"', '"Device/' || d.new_id || '"')::json
FROM device_ids d
WHERE o.patient_id = d.patient_id AND o.resource_type <> 'Device' AND strpos(o.body::text, '"Device/' || d.old_id || '"') > 0;
