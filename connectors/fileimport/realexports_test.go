package fileimport

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"fsecgm/cgm"
)

// sharedDir returns the directory elems under the project's shared data:
// ../shared from the repository root, or $FSECGM_SHARED when set (a
// worktree elsewhere); it skips the test, saying so, when neither has it.
func sharedDir(t *testing.T, elems ...string) string {
	t.Helper()
	roots := []string{filepath.Join("..", "..", "..", "shared")}
	if env := os.Getenv("FSECGM_SHARED"); env != "" {
		roots = append([]string{env}, roots...)
	}
	for _, root := range roots {
		dir := filepath.Join(append([]string{root}, elems...)...)
		if _, err := os.Stat(dir); err == nil {
			return dir
		}
	}
	t.Skipf("SKIPPED: %s not found under ../shared (or $FSECGM_SHARED): the real exports were not imported",
		filepath.Join(elems...))
	return ""
}

// The independent reading of the real exports: each file read with
// encoding/csv or encoding/json and strconv, not with the parsers under
// test, into the readings of each kind keyed by the time as written. The
// last row of a key is kept (the rule of Conflict); the others are counted
// as conflicts when their value differs from it. Values below 40 mg/dL are
// taken as 40 (the model keeps LO readings at the limit).

// tally is what the independent reading finds.
type tally struct {
	floor     float64                       // 40 in mg/dL files: the model's LO
	kinds     map[cgm.Kind]map[string][]row // kind → key → its rows
	order     map[cgm.Kind][]string
	conflicts []string // "kind key: line value (kept), line value"
}

func newTally() *tally {
	return &tally{floor: 40, kinds: map[cgm.Kind]map[string][]row{}, order: map[cgm.Kind][]string{}}
}

type row struct {
	line int
	v    float64
}

func (t *tally) add(k cgm.Kind, key string, line int, v float64) {
	if t.kinds[k] == nil {
		t.kinds[k] = map[string][]row{}
	}
	if _, ok := t.kinds[k][key]; !ok {
		t.order[k] = append(t.order[k], key)
	}
	t.kinds[k][key] = append(t.kinds[k][key], row{line, max(v, t.floor)})
}

// kept returns the kept value of each key (the last row's), and lists the
// conflicts: every earlier row whose value differs from it.
func (t *tally) finish() {
	t.conflicts = nil
	for k, m := range t.kinds {
		for _, key := range t.order[k] {
			rows := m[key]
			last := rows[len(rows)-1]
			for _, r := range rows[:len(rows)-1] {
				if r.v != last.v {
					t.conflicts = append(t.conflicts, k.String()+" "+key+": line "+strconv.Itoa(last.line)+" "+
						strconv.FormatFloat(last.v, 'f', -1, 64)+", line "+strconv.Itoa(r.line)+" "+strconv.FormatFloat(r.v, 'f', -1, 64))
				}
			}
		}
	}
}

func (t *tally) stats() map[cgm.Kind]kindStats {
	out := map[cgm.Kind]kindStats{}
	for k, m := range t.kinds {
		sum := 0.0
		for _, key := range t.order[k] { // in file order: the same sum every run
			rows := m[key]
			sum += rows[len(rows)-1].v
		}
		out[k] = kindStats{N: len(m), Mean: sum / float64(len(m))}
	}
	return out
}

func num(s string) (float64, bool) {
	s = strings.TrimSpace(strings.Trim(strings.TrimSpace(s), `"`))
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.Replace(s, ",", ".", 1), 64)
	return v, err == nil
}

// readLibreView: the header is the second line; column 4 the record type,
// 3 the time; the value in column 5 (type 0), 6 (1) or 15 (2).
func readLibreView(t *testing.T, data []byte) *tally {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))))
	r.FieldsPerRecord = -1
	out := newTally()
	for n := 1; ; n++ {
		rec, err := r.Read()
		if err != nil {
			break
		}
		line, _ := r.FieldPos(0)
		if n == 2 && strings.Contains(rec[4], "mmol") {
			out.floor = 0 // mmol/L: the files' values are within range
		}
		if n <= 2 || len(rec) < 15 {
			continue
		}
		col := map[string]int{"0": 4, "1": 5, "2": 14}
		typ := strings.TrimSpace(rec[3])
		c, ok := col[typ]
		if !ok {
			continue
		}
		if v, ok := num(rec[c]); ok {
			out.add(map[string]cgm.Kind{"0": cgm.Historic, "1": cgm.Scan, "2": cgm.Strip}[typ], strings.TrimSpace(rec[2]), line, v)
		}
	}
	return out
}

// readClarity: the header is the first line; EGV rows hold the sensor's
// value in column 8.
func readClarity(t *testing.T, data []byte) *tally {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))))
	out := newTally()
	for n := 1; ; n++ {
		rec, err := r.Read()
		if err != nil {
			break
		}
		line, _ := r.FieldPos(0)
		if n == 1 || rec[2] != "EGV" {
			continue
		}
		if v, ok := num(rec[7]); ok {
			out.add(cgm.Historic, rec[1], line, v)
		}
	}
	return out
}

// readCareLink: semicolon-separated; each section's "Index;…" header says
// which columns hold the sensor's value and the BG readings.
func readCareLink(t *testing.T, data []byte) *tally {
	out := newTally()
	sg, bg := -1, -1
	for i, l := range strings.Split(string(data), "\n") {
		f := strings.Split(strings.TrimRight(l, "\r"), ";")
		if f[0] == "Index" {
			for j, name := range f {
				switch name {
				case "Sensor Glucose (mg/dL)":
					sg = j
				case "BG Reading (mg/dL)":
					bg = j
				}
			}
			continue
		}
		if sg < 0 || len(f) <= sg || strings.HasPrefix(f[0], "-------") {
			continue
		}
		key := f[1] + " " + f[2]
		if v, ok := num(f[sg]); ok {
			out.add(cgm.Historic, key, i+1, v)
		}
		if v, ok := num(f[bg]); ok {
			out.add(cgm.Strip, key, i+1, v)
		}
	}
	return out
}

// readNightscout: the entries array; sgv entries above 12 (Dexcom's
// special values 0–12 are not glucose).
func readNightscout(t *testing.T, data []byte) *tally {
	var es []map[string]any
	if err := json.Unmarshal(data, &es); err != nil {
		t.Fatal(err)
	}
	out := newTally()
	for i, e := range es {
		v, ok := e["sgv"].(float64)
		if e["type"] != "sgv" || !ok || v <= 12 {
			continue
		}
		out.add(cgm.Historic, strconv.FormatFloat(e["date"].(float64), 'f', -1, 64), i, v)
	}
	return out
}

// readExporterCSV: the rows between "# CGM ENTRIES" and the next "#"
// line, after their header; sgv rows.
func readExporterCSV(t *testing.T, data []byte) *tally {
	out := newTally()
	in := false
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.HasPrefix(l, "#") {
			in = strings.HasPrefix(l, "# CGM ENTRIES")
			continue
		}
		if !in || strings.HasPrefix(l, "Date,") || l == "" {
			continue
		}
		rec, err := csv.NewReader(strings.NewReader(l)).Read()
		if err != nil || rec[3] != "sgv" {
			continue
		}
		if v, ok := num(rec[2]); ok {
			out.add(cgm.Historic, rec[0]+" "+rec[1], i+1, v)
		}
	}
	return out
}

// TestRealExports imports each real CGM export of the shared data in
// place, with its format detected, for a patient whose FSE identity fits
// the person the file names, and compares the count and mean of each kind
// of stored reading with those of the independent reading of the file;
// the conflicting rows are those the independent reading finds. Apple
// Health exports get the "not a CGM export" refusal.
func TestRealExports(t *testing.T) {
	t.Parallel()
	dir := sharedDir(t, "data", "real-exports")
	e := newEnv(t)
	born := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		file     string
		format   Format
		read     func(*testing.T, []byte) *tally
		given    string // the patient's names, to fit a file that names someone
		family   string
		language string
	}{
		{"libreview_fr_mgdl_us12h_librelink.csv", LibreView, readLibreView, "Anna", "Francese", "fr"},
		{"libreview_de_mgdl_libre3.csv", LibreView, readLibreView, "Bruno", "Tedesco", "de"},
		{"libreview_en_mmol_librelink_ukcols.csv", LibreView, readLibreView, "Carla", "Inglese", "en"},
		{"libreview_en_mmol_libre2reader_resaved.csv", LibreView, readLibreView, "Dario", "Salvato", "en"},
		{"dexcom_clarity_g6_mgdl.csv", Clarity, readClarity, "Joe", "Schmoe", ""},
		{"carelink_guardian_connect_mgdl.csv", CareLink, readCareLink, "Anonymised", "Anonymised", ""},
		{"nightscout_entries.json", Nightscout, readNightscout, "Elena", "Notte", ""},
		{"nightscout_exporter_entries_treatments.csv", NightscoutCSV, readExporterCSV, "Franco", "Esporta", ""},
	}
	for _, tc := range tests {
		data, err := os.ReadFile(filepath.Join(dir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(tc.file, data, Options{Location: rome(t)})
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if f.Format != tc.format || f.Language != tc.language {
			t.Errorf("%s: detected %q (language %q), want %q (%q)", tc.file, f.Format, f.Language, tc.format, tc.language)
		}
		p := e.patient(tc.given, tc.family, born, false)
		res, err := e.imp(p, f, ImportOptions{})
		if err != nil {
			t.Errorf("%s: import: %v", tc.file, err)
			continue
		}
		want := tc.read(t, data)
		want.finish()
		got := e.storedStats(p)
		if diff := cmp.Diff(want.stats(), got, approx); diff != "" {
			t.Errorf("%s: stored readings differ from the file (-file +stored):\n%s", tc.file, diff)
		}
		var conflicts []string
		for _, c := range f.Conflicts {
			for _, d := range c.Dropped {
				conflicts = append(conflicts, c.Kind.String()+" line "+strconv.Itoa(c.Kept.Line)+" "+
					strconv.FormatFloat(c.Kept.Value, 'f', -1, 64)+", line "+strconv.Itoa(d.Line)+" "+strconv.FormatFloat(d.Value, 'f', -1, 64))
			}
		}
		var wantConflicts []string
		for _, c := range want.conflicts {
			kind, rest, _ := strings.Cut(c, " ")
			wantConflicts = append(wantConflicts, kind+" "+rest[strings.Index(rest, "line "):])
		}
		if diff := cmp.Diff(wantConflicts, conflicts, cmp.Transformer("sort", sortedStrings)); diff != "" {
			t.Errorf("%s: conflicts (-file +parsed):\n%s", tc.file, diff)
		}
		for k, s := range got {
			t.Logf("%s: %s %d readings, mean %.4f %s", tc.file, k, s.N, s.Mean, unitOf(f))
		}
		t.Logf("%s: %s; %d inserted, %d rows without glucose, %d repeated rows, %d conflicting times",
			tc.file, f.Format.Title(), res.Inserted, f.Skipped, f.Repeated, len(f.Conflicts))
		for _, c := range f.Conflicts {
			t.Logf("%s: conflict %s", tc.file, c)
		}
		// Again: nothing changes.
		again, err := e.imp(p, f, ImportOptions{})
		if err != nil || again.Inserted != 0 || again.Revised != 0 {
			t.Errorf("%s: re-import %+v, %v; want nothing new", tc.file, again, err)
		}
	}

	// The French export: its 7 historic times given twice with different
	// values (and one scan time), listed with both lines and values.
	data, _ := os.ReadFile(filepath.Join(dir, "libreview_fr_mgdl_us12h_librelink.csv"))
	f, _ := Parse("fr.csv", data, Options{Location: rome(t)})
	hist := 0
	for _, c := range f.Conflicts {
		if c.Kind == cgm.Historic {
			hist++
		}
	}
	if hist != 7 {
		t.Errorf("the French export has %d historic conflicts, want 7", hist)
	}

	// Apple Health: not a CGM export, but an export of the devices.
	for _, name := range []string{"apple_health_iphone_enUS_2019.xml", "apple_health_iphone_garminconnect_enFR.xml", "apple_health_watch_hr_koKR.xml"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Parse(name, data, Options{Location: rome(t)})
		var ke *KindError
		if !errors.As(err, &ke) || ke.Format != AppleHealth || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want the Apple Health refusal", name, err)
		}
		if f, err := DetectPath(filepath.Join(dir, name)); f != AppleHealth || err != nil {
			t.Errorf("%s: DetectPath = %q, %v", name, f, err)
		}
	}
}

// TestRealExportsOtherPerson: the Clarity and CareLink exports name their
// patient (Joe Schmoe, and a placeholder): for anyone else they are
// refused, naming that person.
func TestRealExportsOtherPerson(t *testing.T) {
	t.Parallel()
	dir := sharedDir(t, "data", "real-exports")
	e := newEnv(t)
	mario := e.patient("Mario", "Rossi", time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), false)
	for file, who := range map[string]string{"dexcom_clarity_g6_mgdl.csv": "Joe Schmoe", "carelink_guardian_connect_mgdl.csv": "Anonymised Anonymised"} {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(file, data, Options{Location: rome(t)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.imp(mario, f, ImportOptions{})
		var pe *PersonError
		if !errors.As(err, &pe) || pe.Person.String() != who {
			t.Errorf("%s for Mario Rossi: %v, want a refusal naming %s", file, err, who)
		}
	}
	if n := e.count(`SELECT count(*) FROM readings WHERE patient_id = $1`, mario.ID); n != 0 {
		t.Errorf("%d readings stored for Mario Rossi", n)
	}
}

func unitOf(f *File) string {
	if len(f.Subjects) > 0 && len(f.Subjects[0].Readings) > 0 {
		return f.Subjects[0].Readings[0].Unit.String()
	}
	return ""
}

func sortedStrings(in []string) []string {
	out := append([]string(nil), in...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
