package main

import (
	"bufio"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/vitals"
	"fsecgm/connectors/applehealth"
	"fsecgm/connectors/applehealth/applehealthtest"
	"fsecgm/connectors/fileimport"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// benchVitals measures the import of an Apple Health export of one year
// (generated: a watch and a phone counting steps over the same hours,
// heart rate every 5 minutes, nightly sleep stages, daily blood pressure)
// against a plain XML tokenization of the same file (encoding/xml's
// Decoder.Token until EOF: the floor of any reader of the format), in
// -vitals-rounds alternating rounds, and prints
//
//	vitals_parse_records_per_second: X   measurements/s read by applehealth.ReadFile alone
//	vitals_import_records_per_second: X  measurements/s through fileimport.ImportMeasurements:
//	                                     read, validated and stored with cgmstore.IngestMeasurementsTx, one transaction
//	vitals_vs_xml_scan_ratio: X          import time ÷ tokenization time of the same file (goal ≤ 3)
//	vitals_parse_vs_xml_scan_ratio: X    reading alone ÷ tokenization
func benchVitals(ctx context.Context, pool *pgxpool.Pool, store *cgmstore.Store, c config, out io.Writer) error {
	dir, err := os.MkdirTemp("", "fsecgm-bench-vitals-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "export.xml")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	now := time.Now()
	counts, err := applehealthtest.Write(f, applehealthtest.Options{Start: now.AddDate(0, 0, -c.vitalsDays-1), Days: c.vitalsDays})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "# Apple Health export of %d days: %.1f MB, %d records, %d measurements\n",
		c.vitalsDays, float64(fi.Size())/1e6, counts.Records, counts.Measurements())

	var scan, parse, imp time.Duration
	for r := range c.vitalsRounds {
		// The tokenization and the reading alternate which goes first, so
		// that neither always meets a cold page cache.
		var tokens int
		doScan := func() error {
			t0 := time.Now()
			var err error
			tokens, err = scanXML(path)
			scan += time.Since(t0)
			return err
		}
		doParse := func() error {
			t0 := time.Now()
			n := 0
			if _, err := applehealth.ReadFile(path, applehealth.Options{}, func(vitals.Measurement, int) error { n++; return nil }); err != nil {
				return err
			}
			parse += time.Since(t0)
			if n != counts.Measurements() {
				return fmt.Errorf("read %d measurements of %d", n, counts.Measurements())
			}
			return nil
		}
		first, second := doScan, doParse
		if r%2 == 1 {
			first, second = doParse, doScan
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}

		p, _, err := store.EnsurePatient(ctx, fiscalCode(2800-1-r), "Europe/Rome")
		if err != nil {
			return err
		}
		t0 := time.Now()
		var res fileimport.MeasurementsResult
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var err error
			res, err = fileimport.ImportMeasurements(ctx, tx, store, p.ID, path, fileimport.MeasurementsOptions{})
			return err
		})
		imp += time.Since(t0)
		if err != nil {
			return err
		}
		if res.Inserted != counts.Measurements() {
			return fmt.Errorf("imported %d measurements of %d", res.Inserted, counts.Measurements())
		}
		checkpoint(ctx, pool)
		if r == 0 {
			fmt.Fprintf(out, "# %d XML tokens a round\n", tokens)
		}
	}
	k := float64(c.vitalsRounds)
	m := float64(counts.Measurements())
	fmt.Fprintf(out, "# %d rounds: XML tokenization %.2f s, reading %.2f s, import %.2f s a round\n", c.vitalsRounds, scan.Seconds()/k, parse.Seconds()/k, imp.Seconds()/k)
	fmt.Fprintf(out, "vitals_parse_records_per_second: %.0f\n", m*k/parse.Seconds())
	fmt.Fprintf(out, "vitals_import_records_per_second: %.0f\n", m*k/imp.Seconds())
	fmt.Fprintf(out, "vitals_vs_xml_scan_ratio: %.3f\n", imp.Seconds()/scan.Seconds())
	fmt.Fprintf(out, "vitals_parse_vs_xml_scan_ratio: %.3f\n", parse.Seconds()/scan.Seconds())
	return nil
}

// scanXML tokenizes an XML file with encoding/xml and nothing else, and
// returns the number of tokens.
func scanXML(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	d := xml.NewDecoder(bufio.NewReaderSize(f, 256<<10))
	d.Strict = true
	n := 0
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}
