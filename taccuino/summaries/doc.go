// Package summaries keeps a glucose summary of every patient up to date as
// readings arrive, for the clinic list (package reports) and for the record
// (the summaries published through taccuino/records). It uses pgx; it has
// no HTTP.
//
// # Tables (migration 00040)
//
// patient_days holds one row per patient and local calendar day (in the
// patient's zone) with readings: the sufficient statistics of the day —
// number of historic readings, Σ glucose and Σ squared deviations from the
// day's mean (mg/dL), the readings in each consensus band (under the mg/dL
// limits, and under the mmol/L limits for days reported in mmol/L), the
// first and last reading, the histogram of the intervals between
// consecutive readings, the captured 1-, 5- and 15-minute slots, and the
// scans. patient_summaries holds one row per patient: the figures of the
// current period (the 14 complete local days ending yesterday) and of the
// 14 days before, the TIDE category (Categorize), and what was last
// published; patient_summary_figures holds every figure of both periods
// (Figures as JSON), apart, so that the list's scans read a narrow table.
//
// # Updating
//
// Every transaction that changes a patient's readings marks the patient
// dirty: cgmstore writes the marks, and only it (the ingestion path and
// reading removal, in their transactions: since = the earliest instant
// changed; see cgmstore's DirtyMark). [Updater.UpdateDirty] claims marks
// (cgmstore.Store.ClaimDirty: FOR UPDATE SKIP LOCKED, any number of
// replicas), and for each
// patient, in one transaction per batch: reads the readings from the local
// day of since on (at most Options.KeepDays back) with cgmstore, rebuilds
// those day rows only, merges the two periods from the day rows, upserts
// the summary, and consumes the mark (cgmstore.Store.ConsumeDirty; it holds
// the mark's lock, so a mark made meanwhile waits and is kept). A sync that brings the last hour
// rewrites one day row. When the current period's figures changed (a new
// period after midnight, or late readings inside it), the summary is then
// published in a transaction of its own: agp.Compute over the period (for
// the events and the AGP), the AGP report PDF (package agpdoc), and
// Publisher.PublishSummary in that transaction, which also records the
// figures as published; a failed publication is retried after
// Options.PublishRetry.
//
// [Updater.MarkStale], run by [Updater.Run] every round, is the day
// rollover: it marks the patients whose period has ended in their zone
// (patient_summaries.stale_after), those whose zone changed (every kept
// day is rebuilt) and those with readings but no summary. A list read
// before the next round re-derives ended periods from the day rows at once
// ([Updater.Refresh]).
//
// # Precision
//
// The clinic figures are merged from the day rows, never recomputed from
// the readings, and equal agp.Compute's for the same period within 1e-9
// relative (TestMergeMatchesEngine checks every figure): counts, bands and
// slots are exact integers; the mean is Σ/n as the engine's; the variance
// merges the days' M2 with Chan et al.'s pairwise update (no cancellation
// of Σx² − (Σx)²/n); the engine's grid step comes from the exact median of
// the merged interval histograms (the within-day intervals and those
// between consecutive days), and % time CGM active from the captured slots
// of that step. Where day rows cannot give the engine's exact figures — a
// day with more than 64 distinct intervals, or a grid step other than 1,
// 5 or 15 minutes — the period is computed from the readings with
// agp.Compute instead (Result.Fallbacks counts them).
//
// # Clinic list
//
// [Store.List] sorts the patients a practitioner (or a regional service)
// may see by category (the TIDE order of [Categorize]), severity and most
// recent reading, with a category filter, a name or fiscal-code prefix
// search and pages. The caller's set of patients comes as SQL
// (consent.Store.VisibleSQL) and is checked row by row while the page
// walks the index patient_summaries_order, so a page costs about the same
// for 50 patients as for 13,200 (the walk and the checks read indexes
// only: migration 00041). Pages after the first start from an opaque
// cursor on the sort keys and the id (List.Next, List.Prev; keyset
// pagination, migration 00042): the walk starts at the cursor's place in
// the index, so page 20 costs what page 1 costs, where an OFFSET would
// read and check every row before it. Counts per category, which need a pass
// over every patient, are computed only when asked. Every patient has a
// summary row (MarkStale creates the missing ones), so the list holds
// them all. [Rows] reads the shown rows in the transaction that logs their
// access.
package summaries
