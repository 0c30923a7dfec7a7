package consent

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"fsecgm/taccuino/auth"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// centrePatients creates a patient for each name (born in year, year+1…),
// cared for by the diabetology centre org, each consenting to third
// parties except the one at index unconsented.
func (e *env) centrePatients(org string, year int, names []string, unconsented int) []int64 {
	e.t.Helper()
	var pids []int64
	for i, n := range names {
		cf := makeCF(n, year+i, time.Month(1+i), 1+i, i%2 == 0)
		pid := e.patient(cf, time.Time{})
		pids = append(pids, pid)
		e.care(CareDiabetology, cf, "", org)
		if i != unconsented {
			e.setConsent(pid, cf, true)
		}
	}
	return pids
}

// TestAccessListed checks the gate of a listed page: only the patients the
// rules allow are kept, each gets one "allowed" entry committed with the
// page's reads, and a failing read leaves "error" entries and nothing else.
func TestAccessListed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	const org = "ORG-LIST"
	pids := e.centrePatients(org, 1960, []string{"AAALLL", "BBBLLL", "CCCLLL", "DDDLLL"}, 2) // the third has not consented
	a := practitioner(cfDiabetolo, auth.PractitionerDiabetologist, org)
	// The page lists the fourth patient first: the order of ids is kept.
	page := []int64{pids[3], pids[0], pids[1], pids[2]}
	var got []int64
	err := e.s.AccessListed(ctx, a, page, "clinic list", func(ctx context.Context, tx pgx.Tx, allowed []int64) error {
		got = allowed
		var n int
		return tx.QueryRow(ctx, `SELECT count(*) FROM access_log WHERE detail = 'clinic list'`).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{pids[3], pids[0], pids[1]}, got); diff != "" {
		t.Errorf("allowed (-want +got):\n%s", diff)
	}
	reads := func(pid int64) []logRow {
		var out []logRow
		for _, r := range e.log(pid) {
			if r.Action == string(ActReadData) {
				out = append(out, r)
			}
		}
		return out
	}
	for i, pid := range pids {
		log := reads(pid)
		want := []logRow{{Role: "practitioner", ActorID: cfDiabetolo, Basis: "diabetology", Action: string(ActReadData),
			Detail: "clinic list", Outcome: "allowed", Reason: "allowed"}}
		if i == 2 {
			want = nil
		}
		if diff := cmp.Diff(want, log); diff != "" {
			t.Errorf("patient %d log (-want +got):\n%s", i, diff)
		}
	}

	// A failing read: rolled back, "error" entries instead.
	boom := errors.New("boom")
	err = e.s.AccessListed(ctx, a, pids[:1], "failing page", func(context.Context, pgx.Tx, []int64) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	log := reads(pids[0])
	if last := log[len(log)-1]; last.Detail != "failing page" || last.Outcome != "error" || len(log) != 2 {
		t.Errorf("log after a failure = %+v", log)
	}

	// A regional service reads every consenting patient.
	svc := service("regione-cruscotto", ScopeReadData)
	got = nil
	if err := e.s.AccessListed(ctx, svc, pids, "service list", func(_ context.Context, _ pgx.Tx, allowed []int64) error {
		got = allowed
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{pids[0], pids[1], pids[3]}, got); diff != "" {
		t.Errorf("service allowed (-want +got):\n%s", diff)
	}
	if l := reads(pids[3]); l[len(l)-1].Basis != "service" || l[len(l)-1].Detail != "service list" {
		t.Errorf("service entry = %+v", l[len(l)-1])
	}

	// Someone who lists nobody.
	wantDenied(t, e.s.AccessListed(ctx, citizen(cfPatient), pids, "x", nil), ReasonNotPermitted)
	wantDenied(t, e.s.AccessListed(ctx, service("other"), pids, "x", nil), ReasonNotPermitted)
}

// TestListedSQL checks AccessListed's statement composed by a caller: its
// SELECT reads only the kept patients, in the order of ids, their entries
// commit with it, and a statement that fails leaves no entry.
func TestListedSQL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	const org = "ORG-LISTSQL"
	pids := e.centrePatients(org, 1970, []string{"AAALSQ", "BBBLSQ", "CCCLSQ"}, 1) // the second has not consented
	a := practitioner(cfDiabetolo, auth.PractitionerDiabetologist, org)
	page := []int64{pids[2], pids[1], pids[0]}
	with, args, err := e.s.ListedSQL(a, page, "composed page")
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := e.pool.Query(ctx, `WITH `+with+`
		SELECT u.id FROM unnest($1::int4[]) WITH ORDINALITY u(id, ord) JOIN listed l ON l.patient_id = u.id ORDER BY u.ord`, args...)
	got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{pids[2], pids[0]}, got); diff != "" {
		t.Errorf("read (-want +got):\n%s", diff)
	}
	entries := func(detail string) map[int64]int {
		n := map[int64]int{}
		for _, pid := range pids {
			for _, r := range e.log(pid) {
				if r.Detail == detail && r.Outcome == "allowed" && r.Basis == "diabetology" {
					n[pid]++
				}
			}
		}
		return n
	}
	if diff := cmp.Diff(map[int64]int{pids[0]: 1, pids[2]: 1}, entries("composed page")); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	// A statement that fails after the entries were written: none stays.
	with, args, err = e.s.ListedSQL(a, page, "failing statement")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `WITH `+with+` SELECT 1 / (count(*) - count(*)) FROM listed`, args...); err == nil {
		t.Fatal("division by zero did not fail")
	}
	if n := entries("failing statement"); len(n) != 0 {
		t.Errorf("entries of a failed statement: %v", n)
	}
	_, _, err = e.s.ListedSQL(citizen(cfPatient), page, "x")
	wantDenied(t, err, ReasonNotPermitted)
}

// TestVisibleSQL checks the composable query against Access for a
// practitioner and a service, and that it refuses everyone else.
func TestVisibleSQL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	const org = "ORG-SQL"
	var pids []int64
	for i, n := range []string{"AAASQL", "BBBSQL", "CCCSQL"} {
		cf := makeCF(n, 1970+i, time.Month(2+i), 3+i, i%2 == 1)
		pid := e.patient(cf, time.Time{})
		pids = append(pids, pid)
		if i != 1 {
			e.care(CareDiabetology, cf, "", org)
		}
		if i != 2 {
			e.setConsent(pid, cf, true)
		}
	}
	for _, tc := range []struct {
		a    Actor
		want []int64
	}{
		{practitioner(cfDiabetolo, auth.PractitionerDiabetologist, org), []int64{pids[0]}},
		{service("regione", ScopeReadData), []int64{pids[0], pids[1]}},
	} {
		q, args, ok := e.s.VisibleSQL(tc.a)
		if !ok {
			t.Fatalf("VisibleSQL(%v) refused", tc.a)
		}
		rows, _ := e.pool.Query(ctx, `SELECT id FROM (`+q+`) v ORDER BY id`, args...)
		got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("VisibleSQL(%v) (-want +got):\n%s", tc.a, diff)
		}
		for _, pid := range pids {
			allowed := e.s.Access(ctx, tc.a, pid, ActReadData, "check", nil) == nil
			if allowed != slices.Contains(got, pid) {
				t.Errorf("VisibleSQL(%v) and Access disagree on patient %d", tc.a, pid)
			}
		}
	}
	for _, a := range []Actor{citizen(cfPatient), service("no-scope"), {}} {
		if _, _, ok := e.s.VisibleSQL(a); ok {
			t.Errorf("VisibleSQL(%v) accepted", a)
		}
	}
}

// TestListedRules checks the rules of a listed page patient by patient:
// an id given twice is logged once; a care relationship of another centre,
// one not yet begun and one ended are not in force; and a revocation
// waits for the page that read under the consent before it.
func TestListedRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const org = "ORG-RULES"
	pids := e.centrePatients(org, 1950, []string{"AAARUL", "BBBRUL"}, -1)
	others := e.centrePatients("ORG-OTHER", 1980, []string{"CCCRUL"}, -1)
	var periods []int64
	for i, span := range [][2]time.Time{{start.Add(time.Hour), time.Time{}}, {time.Time{}, start.Add(-time.Hour)}} {
		cf := makeCF([]string{"DDDRUL", "EEERUL"}[i], 1990+i, 3, 3, true)
		pid := e.patient(cf, time.Time{})
		e.setConsent(pid, cf, true)
		if _, err := e.s.UpsertCareRelationship(ctx, registry, CareRelationship{PatientFiscalCode: cf, Kind: CareDiabetology,
			OrganizationID: org, ValidFrom: span[0], ValidTo: span[1], Source: "test"}); err != nil {
			t.Fatal(err)
		}
		periods = append(periods, pid)
	}
	a := practitioner(cfDiabetolo, auth.PractitionerDiabetologist, org)
	page := []int64{pids[1], others[0], pids[0], periods[0], pids[1], periods[1]}
	var got []int64
	if err := e.s.AccessListed(ctx, a, page, "rules page", func(_ context.Context, _ pgx.Tx, allowed []int64) error {
		got = allowed
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{pids[1], pids[0], pids[1]}, got); diff != "" {
		t.Errorf("allowed (-want +got):\n%s", diff)
	}
	for _, pid := range append(append(pids, others...), periods...) {
		n := 0
		for _, r := range e.log(pid) {
			if r.Detail == "rules page" {
				n++
			}
		}
		if want := map[bool]int{true: 1}[slices.Contains(pids, pid)]; n != want {
			t.Errorf("patient %d: %d entries, want %d", pid, n, want)
		}
	}

	// The patient revokes while a page that kept them is being read: the
	// revocation waits for the page's commit, and the next page leaves the
	// patient out.
	revoked := make(chan error, 1)
	cf := makeCF("AAARUL", 1950, 1, 1, true)
	err := e.s.AccessListed(ctx, a, pids, "page before", func(ctx context.Context, _ pgx.Tx, _ []int64) error {
		go func() {
			_, err := e.s.SetThirdPartyConsent(ctx, citizen(cf), pids[0], false)
			revoked <- err
		}()
		for {
			var waiting int
			if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
				return err
			}
			if waiting > 0 {
				return nil
			}
			select {
			case err := <-revoked:
				t.Errorf("revocation returned (%v) while a page read under the consent", err)
				revoked <- err
				return nil
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-revoked; err != nil {
		t.Fatalf("revocation: %v", err)
	}
	got = nil
	if err := e.s.AccessListed(ctx, a, pids, "page after", func(_ context.Context, _ pgx.Tx, allowed []int64) error {
		got = allowed
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{pids[1]}, got); diff != "" {
		t.Errorf("allowed after the revocation (-want +got):\n%s", diff)
	}
}
