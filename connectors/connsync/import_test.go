package connsync

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// TestImportChunks: a file written in many small chunks gives the same
// counts and readings as one batch (keys repeated in the file included);
// a bad reading refuses the whole file unless SkipInvalid; importing again
// changes nothing.
func TestImportChunks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0, nil)
	ctx := context.Background()
	start := time.Date(2026, 2, 27, 0, 0, 0, 0, time.UTC) // crosses a month
	var rs []cgm.Reading
	for i := range 500 {
		r := cgm.Reading{Time: start.Add(time.Duration(i%400) * 15 * time.Minute), Value: float64(60 + i%300), Unit: cgm.MgDL, Kind: cgm.Historic, Device: "SN1"}
		rs = append(rs, r) // readings 400-499 repeat the keys of 0-99 with other values: the last wins
	}
	file := ImportFile{Name: "f.csv", Source: cgmstore.SourceLibreView, Readings: rs, Devices: []cgmstore.Device{{Serial: "SN1", Model: "FreeStyle Libre 2"}}}
	imp := func(patient int64, f ImportFile, o ImportOptions) (ImportResult, error) {
		var res ImportResult
		err := e.tx(func(tx pgx.Tx) error {
			var err error
			res, err = Import(ctx, tx, e.store, patient, f, o)
			return err
		})
		return res, err
	}
	one, chunked := e.patient(1), e.patient(2)
	r1, err := imp(one.ID, file, ImportOptions{})
	must(t, err)
	r2, err := imp(chunked.ID, file, ImportOptions{Chunk: 7})
	must(t, err)
	if r1.Inserted != 400 || r1.Duplicate != 100 || fmt.Sprint(r1) != fmt.Sprint(r2) {
		t.Fatalf("one batch %+v, chunks %+v; want 400 inserted, 100 duplicate, alike", r1, r2)
	}
	h1, h2 := e.historic(one), e.historic(chunked)
	if diff := cmp.Diff(gotHistoric(h1), gotHistoric(h2)); diff != "" || len(h1) != 400 {
		t.Errorf("chunked import differs (-one +chunks):\n%s", diff)
	}
	if h1[0].Value != 160 { // reading 400 (160) replaced reading 0 (60)
		t.Errorf("first reading = %v, want the file's last value for its key (160)", h1[0].Value)
	}
	before := e.readingsSnapshot()
	r3, err := imp(chunked.ID, file, ImportOptions{Chunk: 7})
	if err != nil || r3.Inserted != 0 || r3.Revised != 0 {
		t.Errorf("re-import = %+v, %v; want nothing new", r3, err)
	}
	if diff := cmp.Diff(before, e.readingsSnapshot()); diff != "" {
		t.Errorf("re-import changed readings:\n%s", diff)
	}

	// A reading in the future and a parser rejection: nothing is written.
	bad := file
	bad.Readings = append([]cgm.Reading{{Time: time.Now().Add(72 * time.Hour), Value: 100, Unit: cgm.MgDL, Kind: cgm.Historic}}, rs...)
	bad.Lines = make([]int, len(bad.Readings))
	for i := range bad.Lines {
		bad.Lines[i] = i + 3
	}
	bad.Rejected = []error{errors.New("f.csv:2: field \"Record Type\": bad")}
	fresh := e.patient(3)
	_, err = imp(fresh.ID, bad, ImportOptions{Chunk: 7})
	var re *RejectedError
	if !errors.As(err, &re) || len(re.Lines) != 2 || !errors.Is(err, ErrInvalid) {
		t.Fatalf("import of a bad file = %v, want a RejectedError of 2 lines", err)
	}
	if n := e.count(`SELECT count(*) FROM readings WHERE patient_id = $1`, fresh.ID); n != 0 {
		t.Errorf("%d readings written by a refused import", n)
	}
	r4, err := imp(fresh.ID, bad, ImportOptions{Chunk: 7, SkipInvalid: true})
	if err != nil || r4.Rejected != 2 || r4.Inserted != 400 || len(r4.Rejections) != 2 {
		t.Errorf("import --skip-invalid = %+v, %v", r4, err)
	}
	if n := e.count(`SELECT count(*) FROM patient_metrics_dirty WHERE patient_id = $1 AND since = $2`, fresh.ID, start); n != 1 {
		t.Errorf("metrics not marked dirty from the first reading")
	}
}
