-- +goose Up
-- Repeated refusals are one access-log entry with a count (package
-- taccuino/consent): the same refusal of the same caller (the same person
-- or service; for a caller without a valid token, the same client address
-- and the same attempt) for the same patient within one hour is counted on
-- the entry of its first occurrence, with the time and request id of the
-- last, instead of adding an entry each time, so that a flood of refusals
-- cannot bury the patient's real entries or fill the disk. Granted
-- accesses stay one entry each. Rows are updated only to count repeats.
-- Numbers 00080-00089 belong to the abuse and session rules of issue 14.
--
--   occurrences      how many times the refusal happened (1 for others)
--   last_at          when it last happened (NULL: only at "at")
--   last_request_id  the request id of the last occurrence
--   repeat_key       what makes two refusals the same within their hour:
--                    a hash of the caller, action, reason (and, for
--                    callers without a token, their address and attempt)
--                    and the hour; NULL for entries never merged
ALTER TABLE access_log
    ADD COLUMN occurrences     integer NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
    ADD COLUMN last_at         timestamptz,
    ADD COLUMN last_request_id text CHECK (length(last_request_id) <= 128),
    ADD COLUMN repeat_key      text CHECK (repeat_key ~ '^[0-9a-f]{32}$');
CREATE UNIQUE INDEX access_log_repeats ON access_log (patient_id, repeat_key) WHERE repeat_key IS NOT NULL;
