// Package agpdoc renders the AGP report of one patient and one period: the
// page diabetologists read, as HTML with inline SVG charts and as a one-page
// A4 PDF. It is pure (no database, no HTTP): the HTTP handlers of package
// reports, the summaries updater (the PDF that goes into the record) and
// the offline command "fsecgm report" all render through it.
//
// # What the page shows
//
// The sections follow the consensus content of an AGP report (Battelino et
// al., Diabetes Care 2019;42:1593–1603: its targets by population and the
// AGP report's sections), in a layout of our own (the commercial "AGP Report" layout of the
// International Diabetes Center is licensed and is not copied):
//
//   - glucose statistics and targets: period and days, % time CGM active,
//     mean glucose, GMI, CV with its target (≤ 36 %), days worn, scans,
//     and a warning when the data are insufficient (< 14 days or < 70 %
//     captured);
//   - time in ranges: a stacked bar of the five consensus bins with their
//     % and time per day and the targets (standard: > 70 %, < 4 %, < 1 %,
//     < 25 %, < 5 %; older/high-risk: > 50 %, < 1 %, < 50 %, < 10 %);
//   - the AGP curve: median, 25–75 and 5–95 percentile bands over a 24-hour
//     local day, unsmoothed, with the target range marked;
//   - daily glucose profiles: one small chart per local calendar day, each
//     drawn over its real length (23 or 25 hours on DST days);
//   - hypo- and hyperglycaemic events: counts, per day and mean duration;
//   - laboratory HbA1c beside the GMI, with a discordance flag;
//   - the previous period of equal length, side by side, with the changes.
//
// # Numbers
//
// Every figure on the page comes from the engine's report (agp.Report) and
// is rounded and written only by package locale, at the last step; the page
// computes no glucometric. Figures carry a data-fig attribute (HTML) naming
// them, so that tests can read them back and compare them with the engine.
//
// # Output
//
// The HTML is one document with inline SVG charts drawn with presentation
// attributes only (fill, stroke), never style attributes, so that it works
// under the service's Content-Security-Policy (style-src 'self'); its
// stylesheet is linked (served by package reports) or inlined (offline
// files). The PDF is written with fpdf (codeberg.org/go-pdf/fpdf) using the
// Liberation Sans fonts that gonum/plot ships, embedded as UTF-8 subsets
// (a report is about 40 KB), on one A4 portrait page. The charts are drawn
// by one set of functions on a small canvas interface with an SVG and a PDF
// backend, so both outputs show the same drawing.
package agpdoc
