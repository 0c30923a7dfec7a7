package cgmstore

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/migrations/dbtest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// envKillChild names the database a child process of TestCompactKill
// compacts until it is killed.
const envKillChild = "FSECGM_TEST_COMPACT_CHILD_URL"

// TestCompactKillChild is the child of TestCompactKill: it compacts the
// database named by envKillChild again and again, printing a line per
// run, until it is killed. It does nothing in a normal test run.
func TestCompactKillChild(t *testing.T) {
	url := os.Getenv(envKillChild)
	if url == "" {
		t.Skip("run by TestCompactKill")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := pool.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	s := New(pool, Options{})
	fmt.Println("ready")
	for {
		res, err := s.CompactHistory(ctx, time.Now().Add(72*time.Hour))
		if err != nil {
			fmt.Println("error", err)
		} else if res.Days > 0 {
			fmt.Println("compacted", res.Days)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestCompactKill runs the compaction in a child process killed with
// SIGKILL at random points, again and again, while this process ingests
// late readings and revisions into the same days; then it checks every
// stored reading against what the committed batches say must be there:
// none lost, none twice, none stale.
func TestCompactKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes for half a minute")
	}
	t.Parallel()
	ctx := context.Background()
	url := dbtest.URL(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := New(pool, Options{})
	native(t, s, pool)

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 42))

	// What must be stored: (patient, kind, instant) → value and meta.
	type key struct {
		pid  int64
		kind cgm.Kind
		us   int64
	}
	type val struct{ value, meta int16 }
	var mu sync.Mutex
	want := map[key]val{}
	apply := func(pid int64, src Source, rs []cgm.Reading) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rs {
			k := key{pid, r.Kind, r.Time.UnixMicro()}
			v, m := encode(r, src)
			if old, ok := want[k]; ok && old.value == v && old.meta&metaValueBits == m&metaValueBits {
				continue // a duplicate: the stored reading stays as it was
			}
			want[k] = val{v, m}
		}
	}

	const patients, days = 6, 20
	first := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	var pids []int64
	for i := range patients {
		pid := newPatient(t, s, 300+i)
		pids = append(pids, pid)
		rs := historic(first.Add(time.Duration(i)*time.Minute), 15*time.Minute, days*96, "")
		if _, err := s.Ingest(ctx, Batch{Patient: pid, Source: SourceLibreView, Readings: rs}); err != nil {
			t.Fatal(err)
		}
		apply(pid, SourceLibreView, rs)
	}

	// Writers: late scans, revised and repeated historic readings, in
	// random past days, committed or not (a batch that fails is not
	// counted).
	stop := make(chan struct{})
	var pmu [patients]sync.Mutex
	var batches, failed atomic.Int64
	var wg sync.WaitGroup
	for w := range 2 {
		wrng := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := wrng.IntN(patients)
				day := first.AddDate(0, 0, wrng.IntN(days))
				// Scans come from one source and strips from another, so
				// that no two sources deliver readings within a minute of
				// each other with the same glucose (twins, merged into one
				// reading: TestTwins).
				src := []Source{SourceLibreLinkUp, SourceFHIR, SourceLibreView}[wrng.IntN(3)]
				var rs []cgm.Reading
				for range 1 + wrng.IntN(30) {
					j := wrng.IntN(96)
					at := day.Add(time.Duration(i)*time.Minute + time.Duration(j)*15*time.Minute)
					kind := wrng.IntN(3)
					if src == SourceLibreView || kind == 1 && src != SourceLibreLinkUp || kind == 2 && src != SourceFHIR {
						kind = 0
					}
					switch kind {
					case 0: // a revision (or a repeat) of a historic reading
						rs = append(rs, cgm.Reading{Time: at, Value: float64(700+wrng.IntN(1300)) / 10, Unit: cgm.MgDL, Kind: cgm.Historic})
					case 1: // a late scan
						rs = append(rs, cgm.Reading{Time: at.Add(time.Duration(wrng.IntN(900)) * time.Second), Value: float64(40 + wrng.IntN(300)),
							Unit: cgm.MgDL, Kind: cgm.Scan, Trend: cgm.Trend(1 + wrng.IntN(5))})
					default: // a strip in mmol/L
						rs = append(rs, cgm.Reading{Time: at.Add(7 * time.Minute), Value: float64(30+wrng.IntN(200)) / 10, Unit: cgm.MmolL, Kind: cgm.Strip})
					}
				}
				// A patient's batches are applied in the order they commit;
				// within a batch the last reading of an instant and kind wins.
				pmu[i].Lock()
				_, err := s.Ingest(ctx, Batch{Patient: pids[i], Source: src, Readings: rs})
				if err == nil {
					apply(pids[i], src, lastOfEach(rs))
				}
				pmu[i].Unlock()
				if err != nil {
					failed.Add(1)
					continue
				}
				batches.Add(1)
			}
		}()
	}

	// A reader: while days move between forms, every read of a window
	// holds each first-uploaded reading of it (readings are revised or
	// added, never removed), once.
	seeded := map[int64][]int64{} // patient → instants of the first upload
	for i, pid := range pids {
		for j := range days * 96 {
			seeded[pid] = append(seeded[pid], first.Add(time.Duration(i)*time.Minute+time.Duration(j)*15*time.Minute).UnixMicro())
		}
	}
	var reads, badReads atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		rrng := rand.New(rand.NewPCG(seed, 99))
		for {
			select {
			case <-stop:
				return
			default:
			}
			pid := pids[rrng.IntN(patients)]
			from := first.Add(time.Duration(rrng.IntN(days*24-48)) * time.Hour)
			to := from.Add(48 * time.Hour)
			rs, err := s.Readings(ctx, pid, from, to, cgm.Historic)
			if err != nil {
				t.Errorf("Readings: %v", err)
				return
			}
			reads.Add(1)
			var want []int64
			for _, us := range seeded[pid] {
				if us >= from.UnixMicro() && us < to.UnixMicro() {
					want = append(want, us)
				}
			}
			got := make([]int64, len(rs))
			for i, r := range rs {
				got[i] = r.Time.UnixMicro()
			}
			if !slices.Equal(got, want) {
				if badReads.Add(1) <= 3 {
					t.Errorf("a read of %s to %s while days move: %d historic readings, want %d", from, to, len(got), len(want))
				}
			}
		}
	}()

	// The child, killed at random points.
	var runs, kills int
	deadline := time.Now().Add(25 * time.Second)
	for kills < 40 && time.Now().Before(deadline) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCompactKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), envKillChild+"="+url)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan int, 1)
		ready := make(chan struct{})
		go func() {
			n := 0
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				switch {
				case sc.Text() == "ready":
					close(ready)
				case strings.HasPrefix(sc.Text(), "compacted"):
					n++
				case strings.HasPrefix(sc.Text(), "error"):
					t.Errorf("child: %s", sc.Text())
				}
			}
			lines <- n
		}()
		// The random point is counted from when the child is connected:
		// starting a -race test binary under load takes longer than the
		// whole window would.
		select {
		case <-ready:
		case <-time.After(20 * time.Second):
		}
		time.Sleep(time.Duration(50+rng.IntN(700)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		runs += <-lines
		kills++
	}
	close(stop)
	wg.Wait()
	t.Logf("%d kills; the children completed %d compaction runs; %d batches written and %d windows read meanwhile (%d reads wrong), %d batches failed",
		kills, runs, batches.Load(), reads.Load(), badReads.Load(), failed.Load())
	if runs == 0 || batches.Load() == 0 {
		t.Fatalf("nothing happened between the kills: %d compaction runs, %d batches", runs, batches.Load())
	}

	check := func(when string) {
		t.Helper()
		got := map[key]val{}
		dup := 0
		add := func(pid int64, us int64, value, meta int16) {
			k := key{pid, cgm.Kind(meta & metaKindMask), us}
			if _, ok := got[k]; ok {
				dup++
			}
			got[k] = val{value, meta}
		}
		rows, _ := pool.Query(ctx, "SELECT patient_id, measured_at, value, meta FROM readings")
		var (
			pid         int64
			at          time.Time
			value, meta int16
		)
		if _, err := pgx.ForEachRow(rows, []any{&pid, &at, &value, &meta}, func() error {
			add(pid, at.UnixMicro(), value, meta)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		rows, _ = pool.Query(ctx, "SELECT patient_id, kind, day, data FROM readings_compact")
		var (
			kind int16
			day  time.Time
			data []byte
		)
		if _, err := pgx.ForEachRow(rows, []any{&pid, &kind, &day, &data}, func() error {
			rs, err := decodeCompact(nil, day, kind, data)
			for _, r := range rs {
				add(pid, r.us, r.value, r.meta)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		missing, wrong, extra := 0, 0, 0
		for k, v := range want {
			g, ok := got[k]
			switch {
			case !ok:
				missing++
			case g != v:
				wrong++
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				extra++
			}
		}
		if missing+wrong+extra+dup > 0 {
			t.Errorf("%s: of %d readings, %d missing, %d with another value, %d unexpected, %d stored twice", when, len(want), missing, wrong, extra, dup)
		}
		checkForms(t, pool)
	}
	check("after the kills")
	if _, err := s.CompactHistory(ctx, time.Now().Add(72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, "SELECT count(*) FROM readings"); n != 0 {
		t.Errorf("%d readings left plain after a full run", n)
	}
	check("after a full run")
	// The reads agree: a patient's readings through Readings.
	for _, pid := range pids {
		rs, err := s.Readings(ctx, pid, first.AddDate(0, 0, -1), first.AddDate(0, 0, days+1))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for k := range want {
			if k.pid == pid {
				n++
			}
		}
		if len(rs) != n {
			t.Errorf("patient %d: Readings returns %d readings, want %d", pid, len(rs), n)
		}
	}
}

// lastOfEach returns, of readings with the same instant (to the
// microsecond) and kind, the last one, as Ingest keeps it.
func lastOfEach(rs []cgm.Reading) []cgm.Reading {
	seen := map[[2]int64]int{}
	var out []cgm.Reading
	for _, r := range rs {
		k := [2]int64{r.Time.UnixMicro(), int64(r.Kind)}
		if i, ok := seen[k]; ok {
			out[i] = r
			continue
		}
		seen[k] = len(out)
		out = append(out, r)
	}
	return out
}
