-- +goose Up
-- What the population view's dashboard shows, stored by the refresh
-- (population.Refresher) beside the releases it is made of: one row per
-- scope (region, asl:CODE, centre:ID) and period kind (1 = 14 days, 2 =
-- 90 days), holding that scope's tables by every breakdown, its trend
-- (the total of each monthly release) and the funnel plot of the TIR
-- target, all as published (small cells and their complements already
-- suppressed). population.Reader.Dashboard reads one row per view, so the
-- dashboard costs one read and one line of population_audit. The body is
-- the dashboard in the compact binary form of package population
-- (codec.go), which reads back several times faster than JSON; the API
-- serves it as JSON (GET /api/v1/population/dashboard).
CREATE TABLE population_dashboards (
    kind     smallint NOT NULL CHECK (kind BETWEEN 1 AND 2),
    scope    text     NOT NULL CHECK (scope ~ '^(region|asl:.+|centre:.+)$'),
    built_at timestamptz NOT NULL,
    body     bytea    NOT NULL,
    PRIMARY KEY (kind, scope)
);
