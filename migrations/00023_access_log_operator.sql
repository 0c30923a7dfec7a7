-- +goose Up
-- The service's operator acting on a patient's data from the command line
-- (fsecgm bindings purge: removing readings that reached the record from
-- someone else's sensor) is recorded in the patient's access log like any
-- other third party: role 'operator', the operator's name as actor_name.
ALTER TABLE access_log DROP CONSTRAINT access_log_actor_role_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_actor_role_check
    CHECK (actor_role IN ('', 'citizen', 'practitioner', 'service', 'operator'));
