package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/cmd/internal/runsvc"
	"fsecgm/taccuino/auth"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The seeded people besides the patients.
const (
	// centre is the diabetology centre that cares for every patient.
	centre = "ASL-LOADTEST-DIABETOLOGIA"
	// diabetologistCF is a diabetologist of the centre.
	diabetologistCF = "NRESRA75C55D612L"
	// serviceClient is the record system reading the FHIR API.
	serviceClient = "loadtest-ehr"
)

// data is what seed loaded, and the tokens to read it.
type data struct {
	ids       []int64  // internal keys
	publicIDs []string // public ids, same order
	readings  int
	notes     []string

	clinician string // diabetologist's token
	service   string // record system's token (FHIR)
	// clinicPages are the paths of the first 20 pages of the clinic view,
	// each found by the next cursor of the one before (clinicCursors).
	clinicPages []string
}

// clinicCursors walks the clinic view of the diabetologist from its first
// page by the next cursors, up to 20 pages, and keeps their paths.
func (d *data) clinicCursors(ctx context.Context, base string) error {
	d.clinicPages = []string{"/api/v1/clinic"}
	for len(d.clinicPages) < 20 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+d.clinicPages[len(d.clinicPages)-1], nil)
		req.Header.Set("Authorization", "Bearer "+d.clinician)
		res, err := runsvc.Client(30 * time.Second).Do(req)
		if err != nil {
			return fmt.Errorf("clinic pages: %w", err)
		}
		var page struct {
			Next string `json:"next"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			return fmt.Errorf("clinic pages: GET %s: %d %v", d.clinicPages[len(d.clinicPages)-1], res.StatusCode, err)
		}
		if page.Next == "" {
			break
		}
		d.clinicPages = append(d.clinicPages, "/api/v1/clinic?after="+url.QueryEscape(page.Next))
	}
	return nil
}

// fiscalCode returns the i-th (up to 26,000) of a family of valid codes.
func fiscalCode(i int) string {
	return codicefiscale.Complete(fmt.Sprintf("LDTST%c80A01H%03d", 'A'+byte(i/1000%26), i%1000))
}

// seed loads the patients, their readings, the care relationships and
// consents, and what else the service reads.
func seed(ctx context.Context, pool *pgxpool.Pool, c config, log io.Writer) (*data, error) {
	d := &data{}
	cfs := make([]string, c.patients)
	pubs := make([]string, c.patients)
	for i := range cfs {
		cfs[i] = fiscalCode(i)
		var b [16]byte
		_, _ = rand.Read(b[:])
		pubs[i] = hex.EncodeToString(b[:])
	}
	// Patients in one statement (cgmstore.EnsurePatient would take one
	// transaction each); the store reads them as its own.
	logf(log, "loading %d patients", c.patients)
	rows, err := pool.Query(ctx, `
		INSERT INTO patients (public_id, fiscal_code, time_zone)
		SELECT p, f, 'Europe/Rome' FROM unnest($1::text[], $2::text[]) AS x(p, f)
		RETURNING id, public_id`, pubs, cfs)
	if err != nil {
		return nil, err
	}
	byPub := map[string]int64{}
	for rows.Next() {
		var id int64
		var pub string
		if err := rows.Scan(&id, &pub); err != nil {
			return nil, err
		}
		byPub[pub] = id
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, p := range pubs {
		d.ids = append(d.ids, byPub[p])
	}
	d.publicIDs = pubs

	// Readings through the ingestion path, one batch per patient.
	store := cgmstore.New(pool, cgmstore.Options{})
	end := time.Now().UTC().Truncate(15 * time.Minute)
	start := end.Add(-time.Duration(c.days) * 24 * time.Hour)
	if _, err := store.EnsurePartitions(ctx, start, end.Add(24*time.Hour)); err != nil {
		return nil, err
	}
	per := c.days * 96
	logf(log, "ingesting %d readings (%d per patient) through cgmstore.Ingest, %d batches at a time", per*c.patients, per, c.workers)
	var (
		next     atomic.Int64
		inserted atomic.Int64
		wg       sync.WaitGroup
		errs     = make([]error, c.workers)
	)
	t0 := time.Now()
	for w := range c.workers {
		wg.Go(func() {
			buf := make([]cgm.Reading, per)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(d.ids) || ctx.Err() != nil {
					return
				}
				for j := range per {
					buf[j] = cgm.Reading{Time: start.Add(time.Duration(j+1) * 15 * time.Minute), Value: mgdl(i, j),
						Unit: cgm.MgDL, Kind: cgm.Historic, Device: fmt.Sprintf("LT%08d", i)}
				}
				res, err := store.Ingest(ctx, cgmstore.Batch{Patient: d.ids[i], Source: cgmstore.SourceSimulator, Readings: buf,
					Devices: []cgmstore.Device{{Serial: fmt.Sprintf("LT%08d", i), Model: "FreeStyle Libre 2", ActivatedAt: start}}})
				if err == nil && res.Inserted != per {
					err = fmt.Errorf("inserted %d of %d", res.Inserted, per)
				}
				if err != nil {
					errs[w] = fmt.Errorf("patient %d: %w", i, err)
					return
				}
				if n := inserted.Add(int64(res.Inserted)); i%2000 == 0 {
					logf(log, "  %d readings (%.0f/s)", n, float64(n)/time.Since(t0).Seconds())
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.readings = int(inserted.Load())
	d.notes = append(d.notes, fmt.Sprintf("ingestion: %.0f readings/s with %d batches at a time (fsync off)",
		float64(d.readings)/time.Since(t0).Seconds(), c.workers))

	// The diabetology centre cares for every patient, each of whom
	// granted the third-party consent (the rows consent.Store writes).
	logf(log, "care relationships and consents")
	if _, err := pool.Exec(ctx, `
		INSERT INTO care_relationships (patient_fiscal_code, kind, party, source, updated_at)
		SELECT f, 'diabetology', $2, 'loadtest', now() FROM unnest($1::text[]) AS f`, cfs, centre); err != nil {
		return nil, fmt.Errorf("care relationships: %w", err)
	}
	if _, err := pool.Exec(ctx, `
		INSERT INTO third_party_consents (patient_id, granted, changed_at) SELECT id, true, now() FROM unnest($1::int[]) AS id;
		`, d.ids); err != nil {
		return nil, fmt.Errorf("consents: %w", err)
	}
	if _, err := pool.Exec(ctx, `
		INSERT INTO third_party_consent_changes (patient_id, granted, changed_at, changed_by, changed_as)
		SELECT p.id, true, now(), p.fiscal_code, 'self' FROM patients p WHERE p.id = ANY($1::int[])`, d.ids); err != nil {
		return nil, fmt.Errorf("consent history: %w", err)
	}
	if err := seedSummaries(ctx, pool, store, d, c.workers, log); err != nil {
		return nil, err
	}
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return nil, err
	}
	return d, nil
}

// tokens issues the diabetologist's and the record system's development
// tokens with the key file the service will use.
func (d *data) tokens(keyFile string) error {
	iss, err := auth.OpenDevIssuer(keyFile)
	if err != nil {
		return err
	}
	if d.clinician, err = iss.Issue(auth.PrincipalSpec{Role: auth.RolePractitioner, FiscalCode: diabetologistCF,
		PractitionerRole: auth.PractitionerDiabetologist, Organization: centre, Name: "load test"}, 12*time.Hour); err != nil {
		return err
	}
	d.service, err = iss.Issue(auth.PrincipalSpec{Role: auth.RoleService, ClientID: serviceClient,
		Scopes: []string{"system/Observation.rs", "system/Patient.rs", "system/DiagnosticReport.rs"}}, 12*time.Hour)
	return err
}

// mgdl returns the glucose of patient p at reading j: a daily cycle, a
// patient offset and some noise, whole mg/dL between 40 and 400.
func mgdl(p, j int) float64 {
	h := uint64(p)*0x9E3779B97F4A7C15 ^ uint64(j)*0xBF58476D1CE4E5B9
	h ^= h >> 31
	h *= 0x94D049BB133111EB
	h ^= h >> 29
	v := 135 + float64(p%40) + 50*math.Sin(2*math.Pi*float64(j%96)/96+float64(p%7)) + float64(h%31) - 15
	return math.Max(40, math.Min(400, math.Round(v)))
}
