// Package libreview reads the CSV file that LibreView's "Download glucose
// data" produces, the export of a FreeStyle Libre account, into glucose
// readings.
//
// The format is described in the project's reference librelinkup.md §3. A
// file has a title line ("Glucose Data,Generated on,<date> UTC,Generated
// by,<name>"), a header of 19 (or, in later exports, 21) columns, and one row
// per record. [Parse] accepts every variant seen in real exports and in files
// saved again by spreadsheet tools:
//
//   - The header is found by its content, not assumed to be line 2 (German
//     exports may have an empty line before it); columns are found by their
//     English or German names, or by position when a 19- or 21-column header
//     is in another language. The UK name "Long-Acting Insulin Value (units)"
//     is accepted like every column that fsecgm does not read.
//   - The glucose unit is the suffix of the historic glucose column (column 5):
//     "mg/dL" or "mmol/L". mg/dL values are whole numbers; mmol/L values have
//     a decimal dot. The scan and strip columns must name the same unit.
//   - CRLF or LF line ends, a UTF-8 byte order mark, trailing commas on the
//     title line, spaces around fields, RFC 4180 quoted fields (a note such
//     as "ate sushi, about 10 rolls"), blank lines.
//   - Rows are grouped by device and record type and are not in time order.
//     [File.Readings] keeps the file order; sort them with cgm.NewSeries.
//
// # Record types
//
// Record type 0 (historic, automatic) becomes a cgm.Historic reading with
// the value of the historic column; type 1 (scan) a cgm.Scan reading from the
// scan column; type 2 (finger-stick strip) a cgm.Strip reading from the strip
// column. Types 3 (ketone), 4 (insulin), 5 (food) and 6 (note or event) hold
// no glucose: they are counted in [File.Skipped] and are not errors. Any other
// type is a rejected row.
//
// # Values
//
// Values go through cgm.Normalize, which rejects values that are not
// positive or are implausible for the unit (more than twice the sensor's high
// limit: a unit mix-up) and clamps values beyond the sensor's limits. LibreView
// writes a LO reading at the sensor's floor, 40 mg/dL or 2.2 mmol/L
// (librelinkup.md §3.6), so a value AT the low limit is flagged cgm.FlagLow,
// and likewise a value at the high limit (500 mg/dL, 27.8 mmol/L) is flagged
// cgm.FlagHigh, so that time below and above range is not underestimated
// (standards.md §10, trap 22). The literal values "LO" and "HI", should an
// export ever contain them, are read as the limits with their flag. A decimal
// value in an mg/dL file is rejected: mg/dL exports hold whole numbers, and a
// decimal is the sign of mmol/L data under an mg/dL header.
//
// # Dates and time zones
//
// "Device Timestamp" is the local wall-clock time of the device, without
// seconds or offset, in the date order of the account's settings:
// "16-03-2021 13:42" (day first, 24-hour clock) or "01-02-2026 11:40 PM"
// (month first, 12-hour clock); hyphens are used in both, and "/" or "." are
// accepted from re-saved files. The date order is decided once for the whole
// file, in this order of evidence:
//
//  1. an AM/PM suffix anywhere (a row or the title line): month first, the US
//     format;
//  2. a date whose first number is greater than 12 (and the second not):
//     day first;
//  3. a date whose second number is greater than 12 (and the first not):
//     month first;
//  4. no evidence at all (every date has day and month up to 12):
//     [Options.DateOrder], and [Auto] means day first, because fsecgm's
//     users have European (Italian) accounts. [File.DateOrderAssumed] then
//     reports that the order was assumed.
//
// A file holding evidence for both orders (rules 2 and 3) cannot be read, and
// neither can one whose evidence contradicts an explicit [DayFirst] or
// [MonthFirst]: [Parse] returns an error naming the lines.
//
// Wall-clock times are interpreted in [Options.Location], the patient's IANA
// zone (reference metrics.md, "Time zones"). A time that does not exist there
// (the hour skipped when daylight saving time starts, e.g. 02:30 on 29 March
// 2026 in Europe/Rome) is a rejected row naming its line. A time that occurs
// twice (the hour repeated when daylight saving time ends, e.g. 02:30 on 25
// October 2026 in Europe/Rome, first at 00:30 UTC and again at 01:30 UTC) is
// resolved from the sequence of readings: a device's rows of one record type
// are in ascending time order in the export (librelinkup.md §3.4, §3.5), so
// [Parse] picks the earliest of the candidate instants that is not before the
// previous reading of the same serial number and record type. The first run
// through the repeated hour thus gets the first (summer time) instants and the
// second run, which follows readings already in that hour, the later (winter
// time) ones; a repeated time at the start of a group gets the earlier
// instant. When every candidate is before the previous reading (a file out of
// order), the latest candidate is taken. Nothing is dropped: such readings are
// counted in [File.Ambiguous].
//
// # Errors
//
// Parse fails only when the input cannot be read as a LibreView export at all
// (no header, no unit, contradictory date orders, a read error), and says why
// and where. Every bad row is reported in [File.Rejected] as a [*LineError]
// with the file name, line, column name as written in the header, value and
// reason; the other rows are still read. The error text contains the
// offending value, which may be a glucose value: do not log it where glucose
// values must not appear.
package libreview
