-- +goose Up
-- Sources of readings beyond FreeStyle Libre (issue 17): Dexcom (Clarity
-- exports, 6), Medtronic (CareLink exports, 7) and Nightscout (entries
-- files, 8). A device row names the source that first reported it
-- (cgmstore.Source), now 1 to 8. Reading rows are unchanged: their three
-- source bits of meta store Nightscout as 0 (cgmstore's sourceCode), so no
-- reading is rewritten. devices is a small table: the new check is
-- validated at once.
ALTER TABLE devices DROP CONSTRAINT devices_source_check;
ALTER TABLE devices ADD CONSTRAINT devices_source_check CHECK (source BETWEEN 1 AND 8);
