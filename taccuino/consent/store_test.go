package consent

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/migrations/dbtest"
	"fsecgm/taccuino/auth"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// env is one test's database, stores and clock.
type env struct {
	t     *testing.T
	pool  *pgxpool.Pool
	s     *Store
	cgm   *cgmstore.Store
	clock *clock
}

// start is the default test instant: 14 May 2026, 10:00 in Rome.
var start = time.Date(2026, 5, 14, 8, 0, 0, 0, time.UTC)

func newEnv(t *testing.T) *env {
	t.Helper()
	pool := dbtest.Pool(t)
	c := &clock{t: start}
	return &env{t: t, pool: pool, s: New(pool, Options{Now: c.Now}), cgm: cgmstore.New(pool, cgmstore.Options{}), clock: c}
}

// patient creates a patient with cgmstore.EnsurePatient (zone
// Europe/Rome) and, when birth is not zero, stores the birth date.
func (e *env) patient(cf string, birth time.Time) int64 {
	e.t.Helper()
	ctx := context.Background()
	p, _, err := e.cgm.EnsurePatient(ctx, cf, "Europe/Rome")
	if err != nil {
		e.t.Fatalf("EnsurePatient: %v", err)
	}
	if !birth.IsZero() {
		p.BirthDate = birth
		if p, err = e.cgm.UpdatePatient(ctx, p); err != nil {
			e.t.Fatalf("UpdatePatient: %v", err)
		}
	}
	return p.ID
}

// logRow is an access-log row as read directly from the table.
type logRow struct {
	Role, ActorID, Basis, Action, Detail, Outcome, Reason string
}

func (e *env) log(pid int64) []logRow {
	e.t.Helper()
	rows, _ := e.pool.Query(context.Background(), `SELECT actor_role, actor_id, basis, action, detail, outcome, reason
		FROM access_log WHERE patient_id = $1 ORDER BY id`, pid)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[logRow])
	if err != nil {
		e.t.Fatalf("read access log: %v", err)
	}
	return out
}

var registry = service("anagrafe-toscana", ScopeRegistry)

func (e *env) care(kind CareKind, patientCF, practitionerCF, org string) {
	e.t.Helper()
	_, err := e.s.UpsertCareRelationship(context.Background(), registry, CareRelationship{PatientFiscalCode: patientCF,
		Kind: kind, PractitionerFiscalCode: practitionerCF, OrganizationID: org, Source: "test"})
	if err != nil {
		e.t.Fatalf("UpsertCareRelationship: %v", err)
	}
}

func (e *env) guardian(kind GuardianKind, guardianCF, patientCF string) {
	e.t.Helper()
	_, err := e.s.UpsertGuardianship(context.Background(), registry, Guardianship{Kind: kind,
		GuardianFiscalCode: guardianCF, PatientFiscalCode: patientCF, Source: "test"})
	if err != nil {
		e.t.Fatalf("UpsertGuardianship: %v", err)
	}
}

func (e *env) setConsent(pid int64, cf string, granted bool) {
	e.t.Helper()
	if _, err := e.s.SetThirdPartyConsent(context.Background(), citizen(cf), pid, granted); err != nil {
		e.t.Fatalf("SetThirdPartyConsent(%v): %v", granted, err)
	}
}

// read runs a data read by a and returns its error.
func (e *env) read(a Actor, pid int64) error {
	return e.s.Access(context.Background(), a, pid, ActReadData, "latest glucose", nil)
}

func wantDenied(t *testing.T, err error, reason Reason) {
	t.Helper()
	var de *DeniedError
	if !errors.As(err, &de) || !errors.Is(err, ErrDenied) || de.Reason != reason {
		t.Fatalf("err = %v, want a denial for %s", err, reason)
	}
}

func TestAccessLogInSameTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pid := e.patient(cfPatient, time.Time{})
	mmg := practitioner(cfMMG, auth.PractitionerMMG, "")
	e.care(CareMMG, cfPatient, cfMMG, "")
	e.setConsent(pid, cfPatient, true)
	want := e.log(pid) // the registry's write

	// Allowed: fn runs in the transaction that holds the uncommitted entry.
	var seen int
	err := e.s.Access(ctx, mmg, pid, ActReadData, "glucometrics 2026-05-01..2026-05-14", func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM access_log WHERE patient_id = $1 AND action = 'data.read'`, pid).Scan(&seen)
	})
	if err != nil || seen != 1 {
		t.Fatalf("Access(allowed) = %v, fn saw %d read entries; want nil, 1", err, seen)
	}
	want = append(want, logRow{"practitioner", cfMMG, "mmg", "data.read", "glucometrics 2026-05-01..2026-05-14", "allowed", "allowed"})
	if diff := cmp.Diff(want, e.log(pid)); diff != "" {
		t.Fatalf("log after an allowed read (-want +got):\n%s", diff)
	}

	// fn fails: its writes and the allowed entry roll back; an error entry remains.
	boom := errors.New("boom")
	err = e.s.Access(ctx, mmg, pid, ActReadData, "readings", func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE patients SET given_name = 'changed' WHERE id = $1`, pid); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Access(failing fn) = %v, want %v", err, boom)
	}
	var name *string
	if err := e.pool.QueryRow(ctx, `SELECT given_name FROM patients WHERE id = $1`, pid).Scan(&name); err != nil || name != nil {
		t.Fatalf("fn's write survived its failure: %v, %v", name, err)
	}
	want = append(want, logRow{"practitioner", cfMMG, "mmg", "data.read", "readings", "error", "error"})
	if diff := cmp.Diff(want, e.log(pid)); diff != "" {
		t.Fatalf("log after a failed read (-want +got):\n%s", diff)
	}

	// A cancelled request still leaves its error entry.
	cctx, cancel := context.WithCancel(ctx)
	err = e.s.Access(cctx, mmg, pid, ActReadData, "cancelled", func(ctx context.Context, tx pgx.Tx) error {
		cancel()
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Access(cancelled) = %v, want context.Canceled", err)
	}
	want = append(want, logRow{"practitioner", cfMMG, "mmg", "data.read", "cancelled", "error", "error"})

	// Denied: fn is never called; the denial is committed.
	called := false
	err = e.s.Access(ctx, practitioner(cfStranger, auth.PractitionerMMG, ""), pid, ActReadData, "readings",
		func(context.Context, pgx.Tx) error { called = true; return nil })
	wantDenied(t, err, ReasonNoCareRelationship)
	if called {
		t.Fatal("fn was called for a denied access")
	}
	want = append(want, logRow{"practitioner", cfStranger, "", "data.read", "readings", "denied", "no-care-relationship"})

	// The patient's own accesses are not logged, even when they fail.
	if err := e.s.Access(ctx, citizen(cfPatient), pid, ActReadData, "own", nil); err != nil {
		t.Fatalf("Access(self) = %v", err)
	}
	if err := e.s.Access(ctx, citizen(cfPatient), pid, ActReadData, "own", func(context.Context, pgx.Tx) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Access(self, failing) = %v", err)
	}
	// A patient trying a registry write is refused, and that is logged.
	wantDenied(t, e.s.Access(ctx, citizen(cfPatient), pid, ActWriteCareRelationships, "", nil), ReasonNotPermitted)
	want = append(want, logRow{"citizen", cfPatient, "self", "care-relationships.write", "", "denied", "not-permitted"})

	// Unauthenticated callers: through Access and through LogDenied.
	wantDenied(t, e.s.Access(ctx, ActorFrom(nil, "req-9"), pid, ActReadData, "readings", nil), ReasonUnauthenticated)
	if err := e.s.LogDenied(ctx, pid, ActReadData, "GET readings: expired token", Actor{RequestID: "req-10"}); err != nil {
		t.Fatalf("LogDenied: %v", err)
	}
	want = append(want,
		logRow{"", "", "", "data.read", "readings", "denied", "unauthenticated"},
		logRow{"", "", "", "data.read", "GET readings: expired token", "denied", "unauthenticated"})
	if diff := cmp.Diff(want, e.log(pid)); diff != "" {
		t.Fatalf("final log (-want +got):\n%s", diff)
	}

	// Unknown patients: ErrNotFound, nothing to log.
	if err := e.s.Access(ctx, mmg, pid+1000, ActReadData, "", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("Access(unknown patient) = %v, want ErrNotFound", err)
	}
	if err := e.s.LogDenied(ctx, pid+1000, ActReadData, "", Actor{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("LogDenied(unknown patient) = %v, want ErrNotFound", err)
	}
	if err := e.s.Access(ctx, mmg, -1, ActReadData, "", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("Access(patient -1) = %v, want ErrNotFound", err)
	}
}

func TestThirdPartyConsent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pid := e.patient(cfPatient, time.Time{})
	mmg := practitioner(cfMMG, auth.PractitionerMMG, "")
	fse := service("fse", ScopeReadData)
	e.care(CareMMG, cfPatient, cfMMG, "")

	// Privacy by default: never recorded means not granted.
	st, err := e.s.ThirdPartyConsent(ctx, citizen(cfPatient), pid)
	if err != nil || st.Granted || len(st.History) != 0 {
		t.Fatalf("ThirdPartyConsent(new patient) = %+v, %v; want not granted, no history", st, err)
	}
	wantDenied(t, e.read(mmg, pid), ReasonNoConsent)
	wantDenied(t, e.read(fse, pid), ReasonNoConsent)

	t1 := start
	if st, err = e.s.SetThirdPartyConsent(ctx, citizen(cfPatient), pid, true); err != nil || !st.Granted {
		t.Fatalf("grant: %+v, %v", st, err)
	}
	if err := e.read(mmg, pid); err != nil {
		t.Fatalf("MMG read with consent: %v", err)
	}
	if err := e.read(fse, pid); err != nil {
		t.Fatalf("service read with consent: %v", err)
	}
	e.clock.Set(start.Add(time.Hour))
	if _, err := e.s.SetThirdPartyConsent(ctx, citizen(cfPatient), pid, true); err != nil {
		t.Fatalf("grant again: %v", err)
	}
	// A delegate may not change consent; a tutor may.
	e.guardian(GuardianTutor, cfTutor, cfPatient)
	if _, err := e.s.GrantDelegation(ctx, citizen(cfPatient), pid, cfDelegate, start.Add(48*time.Hour)); err != nil {
		t.Fatalf("GrantDelegation: %v", err)
	}
	_, err = e.s.SetThirdPartyConsent(ctx, citizen(cfDelegate), pid, false)
	wantDenied(t, err, ReasonNotPermitted)
	_, err = e.s.ThirdPartyConsent(ctx, citizen(cfDelegate), pid)
	wantDenied(t, err, ReasonNotPermitted)

	t2 := start.Add(2 * time.Hour)
	e.clock.Set(t2)
	if st, err = e.s.SetThirdPartyConsent(ctx, citizen(cfTutor), pid, false); err != nil || st.Granted {
		t.Fatalf("revoke by tutor: %+v, %v", st, err)
	}
	want := []ConsentChange{{Granted: true, At: t1, By: cfPatient, As: BasisSelf}, {Granted: false, At: t2, By: cfTutor, As: BasisTutor}}
	if diff := cmp.Diff(want, st.History); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	// Revoked: every clinician and service refused, representatives not.
	wantDenied(t, e.read(mmg, pid), ReasonNoConsent)
	wantDenied(t, e.read(fse, pid), ReasonNoConsent)
	for _, cf := range []string{cfPatient, cfTutor, cfDelegate} {
		if err := e.read(citizen(cf), pid); err != nil {
			t.Errorf("read by %s after revocation: %v", cf[:6], err)
		}
	}
	_, err = e.s.SetThirdPartyConsent(ctx, mmg, pid, true)
	wantDenied(t, err, ReasonNotPermitted)
}

// TestRevocationWaitsForReads: a revocation waits for the third-party reads
// decided before it, and every read decided after it is refused.
func TestRevocationWaitsForReads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pid := e.patient(cfPatient, time.Time{})
	mmg := practitioner(cfMMG, auth.PractitionerMMG, "")
	e.care(CareMMG, cfPatient, cfMMG, "")
	e.setConsent(pid, cfPatient, true)

	revoked := make(chan error, 1)
	err := e.s.Access(ctx, mmg, pid, ActReadData, "readings", func(ctx context.Context, tx pgx.Tx) error {
		go func() {
			_, err := e.s.SetThirdPartyConsent(ctx, citizen(cfPatient), pid, false)
			revoked <- err
		}()
		// Wait until the revocation is blocked on a lock held by this read.
		for {
			var waiting int
			err := e.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
			if err != nil {
				return err
			}
			if waiting > 0 {
				break
			}
			select {
			case err := <-revoked:
				t.Errorf("revocation returned (%v) while a read decided before it was running", err)
				revoked <- err
				return nil
			case <-time.After(5 * time.Millisecond):
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := <-revoked; err != nil {
		t.Fatalf("revocation: %v", err)
	}
	wantDenied(t, e.read(mmg, pid), ReasonNoConsent)
}

func TestPrivacyNotice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pid := e.patient(cfPatient, time.Time{})
	if _, err := e.s.LatestPrivacyNotice(ctx, citizen(cfPatient), pid); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LatestPrivacyNotice(none) = %v, want ErrNotFound", err)
	}
	if _, err := e.s.AcceptPrivacyNotice(ctx, citizen(cfPatient), pid, "2026.1"); err != nil {
		t.Fatalf("accept 2026.1: %v", err)
	}
	if _, err := e.s.GrantDelegation(ctx, citizen(cfPatient), pid, cfDelegate, start.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	t2 := start.Add(time.Minute)
	e.clock.Set(t2)
	got, err := e.s.AcceptPrivacyNotice(ctx, citizen(cfDelegate), pid, "2026.2")
	want := PrivacyNoticeAcceptance{Version: "2026.2", AcceptedAt: t2, AcceptedBy: cfDelegate, As: BasisDelegate}
	if err != nil || got != want {
		t.Fatalf("AcceptPrivacyNotice(delegate) = %+v, %v; want %+v", got, err, want)
	}
	if got, err := e.s.LatestPrivacyNotice(ctx, citizen(cfPatient), pid); err != nil || got != want {
		t.Fatalf("LatestPrivacyNotice = %+v, %v; want %+v", got, err, want)
	}
	for _, v := range []string{"", "v\n1", string(make([]byte, 65))} {
		if _, err := e.s.AcceptPrivacyNotice(ctx, citizen(cfDelegate), pid, v); !errors.Is(err, ErrInvalid) {
			t.Errorf("AcceptPrivacyNotice(%q) = %v, want ErrInvalid", v, err)
		}
	}
	_, err = e.s.AcceptPrivacyNotice(ctx, practitioner(cfMMG, auth.PractitionerMMG, ""), pid, "2026.3")
	wantDenied(t, err, ReasonNotPermitted)
	// The delegate's invalid attempts are logged as errors.
	n := 0
	for _, r := range e.log(pid) {
		if r.Outcome == "error" && r.Reason == "invalid-request" {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d invalid-request entries, want 3", n)
	}
}

func TestDelegations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pid := e.patient(cfPatient, time.Date(1980, 3, 10, 0, 0, 0, 0, time.UTC))
	me, del := citizen(cfPatient), citizen(cfDelegate)
	expires := start.Add(30 * 24 * time.Hour)

	// Refused arguments.
	minorByRecord := makeCF("PRLGNN", 1990, time.April, 4, false) // adult by code, 13 by the stored date
	e.patient(minorByRecord, time.Date(2013, 4, 4, 0, 0, 0, 0, time.UTC))
	for name, tc := range map[string]struct {
		cf  string
		exp time.Time
	}{
		"invalid code":          {"RSSMRA85T10A562X", expires},
		"the patient":           {cfPatient, expires},
		"a minor by code":       {cfTeen, expires},
		"a minor by record":     {minorByRecord, expires},
		"expiry now":            {cfDelegate, start},
		"expiry in the past":    {cfDelegate, start.Add(-time.Hour)},
		"born today 18y ago+1":  {makeCF("GRNLRA", 2008, time.May, 15, true), expires},
		"expiry beyond 5 years": {cfDelegate, start.AddDate(5, 0, 2)},
		"expiry in 50 years":    {cfDelegate, start.AddDate(50, 0, 0)},
	} {
		if _, err := e.s.GrantDelegation(ctx, me, pid, tc.cf, tc.exp); !errors.Is(err, ErrInvalid) {
			t.Errorf("GrantDelegation(%s) = %v, want ErrInvalid", name, err)
		}
	}
	// Exactly 18 today (in Rome) is an adult.
	if _, err := e.s.GrantDelegation(ctx, me, pid, makeCF("GRNLRA", 2008, time.May, 14, true), expires); err != nil {
		t.Errorf("GrantDelegation(18 today) = %v", err)
	}

	d1, err := e.s.GrantDelegation(ctx, me, pid, " "+cfDelegate[:8]+string(cfDelegate[8]+32)+cfDelegate[9:]+" ", expires)
	if err != nil {
		t.Fatalf("GrantDelegation: %v", err)
	}
	want := Delegation{ID: d1.ID, PatientID: pid, DelegateFiscalCode: cfDelegate, GrantedBy: cfPatient, GrantedAs: BasisSelf,
		CreatedAt: start, ExpiresAt: expires}
	if diff := cmp.Diff(want, d1); diff != "" {
		t.Fatalf("GrantDelegation (-want +got):\n%s", diff)
	}
	// The delegate reads, connects, reads the log; never delegates or touches consent.
	if err := e.read(del, pid); err != nil {
		t.Fatalf("delegate read: %v", err)
	}
	if err := e.s.Access(ctx, del, pid, ActWriteData, "connect LibreLinkUp", nil); err != nil {
		t.Fatalf("delegate write: %v", err)
	}
	if _, err := e.s.AccessLog(ctx, del, pid, 10, ""); err != nil {
		t.Fatalf("delegate access log: %v", err)
	}
	_, err = e.s.GrantDelegation(ctx, del, pid, cfStranger, expires)
	wantDenied(t, err, ReasonNotPermitted)
	_, err = e.s.RevokeDelegation(ctx, del, pid, d1.ID)
	wantDenied(t, err, ReasonNotPermitted)
	_, err = e.s.Delegations(ctx, del, pid)
	wantDenied(t, err, ReasonNotPermitted)

	// Granting again supersedes.
	e.clock.Set(start.Add(time.Hour))
	d2, err := e.s.GrantDelegation(ctx, me, pid, cfDelegate, expires.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	list, err := e.s.Delegations(ctx, me, pid)
	if err != nil || len(list) != 3 || list[0].ID != d2.ID || list[1].ID != d1.ID {
		t.Fatalf("Delegations = %+v, %v; want d2, d1, the 18-year-old's", list, err)
	}
	if list[1].RevokedAt != start.Add(time.Hour) || list[1].RevokedBy != "superseded" {
		t.Errorf("superseded delegation: revoked %v by %q", list[1].RevokedAt, list[1].RevokedBy)
	}

	// Expiry boundary through the store.
	e.clock.Set(d2.ExpiresAt.Add(-time.Microsecond))
	if err := e.read(del, pid); err != nil {
		t.Errorf("read at the last instant: %v", err)
	}
	e.clock.Set(d2.ExpiresAt)
	wantDenied(t, e.read(del, pid), ReasonDelegationExpired)

	// Revocation.
	e.clock.Set(start.Add(2 * time.Hour))
	r, err := e.s.RevokeDelegation(ctx, me, pid, d2.ID)
	if err != nil || r.RevokedAt != start.Add(2*time.Hour) || r.RevokedBy != cfPatient {
		t.Fatalf("RevokeDelegation = %+v, %v", r, err)
	}
	wantDenied(t, e.read(del, pid), ReasonDelegationRevoked)
	e.clock.Set(start.Add(3 * time.Hour))
	if r2, err := e.s.RevokeDelegation(ctx, me, pid, d2.ID); err != nil || r2 != r {
		t.Errorf("RevokeDelegation again = %+v, %v; want unchanged %+v", r2, err, r)
	}
	if _, err := e.s.RevokeDelegation(ctx, me, pid, d2.ID+100); !errors.Is(err, ErrNotFound) {
		t.Errorf("RevokeDelegation(unknown) = %v, want ErrNotFound", err)
	}
	// Another patient's delegation id is unknown here.
	other := e.patient(cfStranger, time.Time{})
	if _, err := e.s.RevokeDelegation(ctx, citizen(cfStranger), other, d1.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("RevokeDelegation(other patient's id) = %v, want ErrNotFound", err)
	}
}

// TestParentOfMinor: a parent acts until the child's 18th birthday begins
// in Europe/Rome, and the delegations they grant end then too.
func TestParentOfMinor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	child := makeCF("BNCSFO", 2008, time.May, 20, true)
	birthday := time.Date(2026, 5, 19, 22, 0, 0, 0, time.UTC) // 20 May 2026 00:00 CEST
	parent := citizen(cfParent)

	// The registry knows the parent before the child has a record.
	e.guardian(GuardianParent, cfParent, child)
	reps, err := e.s.Represented(ctx, parent)
	if err != nil {
		t.Fatal(err)
	}
	want := []Representation{{PatientFiscalCode: cfParent, Basis: BasisSelf},
		{PatientFiscalCode: child, Basis: BasisParent, Until: birthday}}
	if diff := cmp.Diff(want, reps); diff != "" {
		t.Fatalf("Represented before the child's record (-want +got):\n%s", diff)
	}

	pid := e.patient(child, time.Date(2008, 5, 20, 0, 0, 0, 0, time.UTC))
	want[1].PatientID = pid
	if reps, err = e.s.Represented(ctx, parent); err != nil || !cmp.Equal(want, reps) {
		t.Fatalf("Represented = %+v, %v; want %+v", reps, err, want)
	}
	if _, err := e.s.SetThirdPartyConsent(ctx, parent, pid, true); err != nil {
		t.Fatalf("parent grants consent: %v", err)
	}
	d, err := e.s.GrantDelegation(ctx, parent, pid, cfDelegate, birthday.Add(365*24*time.Hour))
	if err != nil {
		t.Fatalf("parent delegates: %v", err)
	}
	if !d.ExpiresAt.Equal(birthday) || d.GrantedAs != BasisParent {
		t.Errorf("parent's delegation expires %v as %s, want %v as parent", d.ExpiresAt, d.GrantedAs, birthday)
	}

	e.clock.Set(birthday.Add(-time.Microsecond))
	if err := e.read(parent, pid); err != nil {
		t.Errorf("parent read at 17y364d 23:59:59.999999: %v", err)
	}
	if err := e.read(citizen(cfDelegate), pid); err != nil {
		t.Errorf("parent's delegate at 17y364d: %v", err)
	}
	e.clock.Set(birthday)
	wantDenied(t, e.read(parent, pid), ReasonCameOfAge)
	wantDenied(t, e.read(citizen(cfDelegate), pid), ReasonDelegationExpired)
	if err := e.read(citizen(child), pid); err != nil {
		t.Errorf("the new adult's own read: %v", err)
	}
	if reps, err = e.s.Represented(ctx, parent); err != nil || len(reps) != 1 {
		t.Errorf("Represented after the 18th birthday = %+v, %v; want self only", reps, err)
	}
	var last logRow
	if l := e.log(pid); len(l) > 0 {
		last = l[len(l)-2]
	}
	if want := (logRow{"citizen", cfParent, "parent", "data.read", "latest glucose", "denied", "came-of-age"}); last != want {
		t.Errorf("denial entry = %+v, want %+v", last, want)
	}
}

// TestTutorship: a tutor acts while registered; ending the tutorship ends
// their access and the delegations they granted.
func TestTutorship(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pid := e.patient(cfPatient, time.Time{})
	tutor := citizen(cfTutor)
	e.guardian(GuardianTutor, cfTutor, cfPatient)
	d, err := e.s.GrantDelegation(ctx, tutor, pid, cfDelegate, start.Add(90*24*time.Hour))
	if err != nil || d.GrantedAs != BasisTutor {
		t.Fatalf("tutor delegates: %+v, %v", d, err)
	}
	mine, err := e.s.GrantDelegation(ctx, citizen(cfPatient), pid, cfStranger, start.Add(90*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	end := start.Add(24 * time.Hour)
	g, err := e.s.EndGuardianship(ctx, registry, Guardianship{Kind: GuardianTutor, GuardianFiscalCode: cfTutor,
		PatientFiscalCode: cfPatient}, end)
	if err != nil || !g.ValidTo.Equal(end) {
		t.Fatalf("EndGuardianship = %+v, %v", g, err)
	}
	if err := e.read(tutor, pid); err != nil {
		t.Errorf("tutor before the end: %v", err)
	}
	e.clock.Set(end)
	wantDenied(t, e.read(tutor, pid), ReasonGuardianshipEnded)
	wantDenied(t, e.read(citizen(cfDelegate), pid), ReasonDelegationRevoked)
	if err := e.read(citizen(cfStranger), pid); err != nil {
		t.Errorf("the patient's own delegate after the tutorship ended: %v", err)
	}
	list, err := e.s.Delegations(ctx, citizen(cfPatient), pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range list {
		switch x.ID {
		case d.ID:
			if !x.RevokedAt.Equal(end) || x.RevokedBy != "registry" {
				t.Errorf("tutor's delegation: revoked %v by %q, want %v by registry", x.RevokedAt, x.RevokedBy, end)
			}
		case mine.ID:
			if !x.RevokedAt.IsZero() {
				t.Errorf("patient's delegation revoked at %v", x.RevokedAt)
			}
		}
	}
	// Ending again keeps the earlier end; unknown is ErrNotFound.
	g2, err := e.s.EndGuardianship(ctx, registry, Guardianship{Kind: GuardianTutor, GuardianFiscalCode: cfTutor,
		PatientFiscalCode: cfPatient}, end.Add(time.Hour))
	if err != nil || !g2.ValidTo.Equal(end) {
		t.Errorf("EndGuardianship again = %+v, %v; want end %v", g2, err, end)
	}
	_, err = e.s.EndGuardianship(ctx, registry, Guardianship{Kind: GuardianParent, GuardianFiscalCode: cfTutor,
		PatientFiscalCode: cfPatient}, end)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("EndGuardianship(unknown) = %v, want ErrNotFound", err)
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pid := e.patient(cfPatient, time.Time{})
	from := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	r := CareRelationship{PatientFiscalCode: cfPatient, Kind: CareDiabetology, OrganizationID: "090-ASL-FI-DIAB",
		ValidFrom: from, Source: "ARS Toscana"}

	// Only the registry writes.
	for _, a := range []Actor{citizen(cfPatient), practitioner(cfMMG, auth.PractitionerMMG, ""), service("fse", ScopeReadData), {}} {
		if _, err := e.s.UpsertCareRelationship(ctx, a, r); !errors.Is(err, ErrDenied) {
			t.Errorf("UpsertCareRelationship by %v = %v, want ErrDenied", a, err)
		}
	}
	got, err := e.s.UpsertCareRelationship(ctx, registry, r)
	if err != nil || !cmp.Equal(r, got) {
		t.Fatalf("UpsertCareRelationship = %+v, %v; want %+v", got, err, r)
	}
	if _, err := e.s.UpsertCareRelationship(ctx, registry, r); err != nil {
		t.Fatal(err)
	}
	// Not granted yet: even the registry's write works.
	st, _ := e.s.ThirdPartyConsent(ctx, citizen(cfPatient), pid)
	if st.Granted {
		t.Fatal("consent granted by default")
	}
	var writes []logRow
	for _, l := range e.log(pid) {
		if l.Action == string(ActWriteCareRelationships) {
			writes = append(writes, l)
		}
	}
	want := []logRow{
		{"citizen", cfPatient, "self", "care-relationships.write", "record diabetology care relationship", "denied", "not-permitted"},
		{"practitioner", cfMMG, "", "care-relationships.write", "record diabetology care relationship", "denied", "not-permitted"},
		{"service", "fse", "", "care-relationships.write", "record diabetology care relationship", "denied", "missing-scope"},
		{"", "", "", "care-relationships.write", "record diabetology care relationship", "denied", "unauthenticated"},
		// the second, identical upsert changed nothing and logged nothing
		{"service", "anagrafe-toscana", "registry", "care-relationships.write", "record diabetology care relationship", "allowed", "allowed"},
	}
	if diff := cmp.Diff(want, writes); diff != "" {
		t.Errorf("registry writes in the access log (-want +got):\n%s", diff)
	}

	// Patients without a record: stored, nothing logged.
	if _, err := e.s.UpsertCareRelationship(ctx, registry, CareRelationship{PatientFiscalCode: cfChild, Kind: CarePLS,
		PractitionerFiscalCode: cfPLS}); err != nil {
		t.Fatalf("relationship of a patient without a record: %v", err)
	}
	var total int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM access_log`).Scan(&total); err != nil || total != len(e.log(pid)) {
		t.Errorf("access log holds %d rows, want only patient %d's (%v)", total, pid, err)
	}

	// Invalid relationships.
	for name, bad := range map[string]CareRelationship{
		"bad patient code":     {PatientFiscalCode: "RSSMRA85T10A562X", Kind: CareMMG, PractitionerFiscalCode: cfMMG},
		"mmg without code":     {PatientFiscalCode: cfPatient, Kind: CareMMG},
		"mmg with org":         {PatientFiscalCode: cfPatient, Kind: CareMMG, PractitionerFiscalCode: cfMMG, OrganizationID: "x"},
		"diabetology with cf":  {PatientFiscalCode: cfPatient, Kind: CareDiabetology, OrganizationID: "x", PractitionerFiscalCode: cfMMG},
		"diabetology, no org":  {PatientFiscalCode: cfPatient, Kind: CareDiabetology},
		"unknown kind":         {PatientFiscalCode: cfPatient, Kind: "nurse", PractitionerFiscalCode: cfMMG},
		"ends before it began": {PatientFiscalCode: cfPatient, Kind: CareMMG, PractitionerFiscalCode: cfMMG, ValidFrom: from, ValidTo: from},
	} {
		if _, err := e.s.UpsertCareRelationship(ctx, registry, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("UpsertCareRelationship(%s) = %v, want ErrInvalid", name, err)
		}
	}

	// End, idempotently; unknown is ErrNotFound.
	end := start.Add(time.Hour)
	got, err = e.s.EndCareRelationship(ctx, registry, CareRelationship{PatientFiscalCode: cfPatient, Kind: CareDiabetology,
		OrganizationID: "090-ASL-FI-DIAB"}, end)
	if err != nil || !got.ValidTo.Equal(end) || !got.ValidFrom.Equal(from) {
		t.Fatalf("EndCareRelationship = %+v, %v", got, err)
	}
	if again, err := e.s.EndCareRelationship(ctx, registry, got, end.Add(time.Hour)); err != nil || !cmp.Equal(again, got) {
		t.Errorf("EndCareRelationship again = %+v, %v; want %+v", again, err, got)
	}
	if _, err := e.s.EndCareRelationship(ctx, registry, CareRelationship{PatientFiscalCode: cfPatient, Kind: CareMMG,
		PractitionerFiscalCode: cfMMG}, end); !errors.Is(err, ErrNotFound) {
		t.Errorf("EndCareRelationship(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := e.s.EndCareRelationship(ctx, registry, CareRelationship{PatientFiscalCode: cfChild, Kind: CarePLS,
		PractitionerFiscalCode: cfPLS}, time.Time{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("EndCareRelationship(no instant) = %v, want ErrInvalid", err)
	}

	// The patient and the registry list them; a clinician may not.
	e.guardian(GuardianTutor, cfTutor, cfPatient)
	for _, a := range []Actor{citizen(cfPatient), citizen(cfTutor), registry} {
		cs, gs, err := e.s.CareRelationships(ctx, a, pid)
		if err != nil || len(cs) != 1 || cs[0] != got || len(gs) != 1 || gs[0].GuardianFiscalCode != cfTutor {
			t.Errorf("CareRelationships(%v) = %+v, %+v, %v", a, cs, gs, err)
		}
	}
	_, _, err = e.s.CareRelationships(ctx, practitioner(cfMMG, auth.PractitionerMMG, ""), pid)
	wantDenied(t, err, ReasonNotPermitted)
}

// TestVisiblePatients checks the clinic list against Decide, patient by
// patient, for every kind of practitioner.
func TestVisiblePatients(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	const org = "ORG-DIAB-FI"
	var pids []int64
	names := []string{"AAABBB", "CCCDDD", "EEEFFF", "GGGHHH", "IIIJJJ", "KKKLLL", "MMMNNN", "OOOPPP", "QQQRRR", "SSSTTT", "UUUVVV", "WWWXXX"}
	for i, n := range names {
		cf := makeCF(n, 1950+i, time.Month(1+i), 1+i, i%2 == 0)
		pid := e.patient(cf, time.Time{})
		pids = append(pids, pid)
		if i%4 != 3 {
			e.setConsent(pid, cf, true)
		}
		if i%3 == 0 {
			e.care(CareMMG, cf, cfMMG, "")
		}
		if i%3 == 1 {
			e.care(CarePLS, cf, cfPLS, "")
		}
		if i%2 == 0 {
			e.care(CareDiabetology, cf, "", org)
		}
		switch i {
		case 6: // an MMG relationship that has ended
			if _, err := e.s.EndCareRelationship(ctx, registry, CareRelationship{PatientFiscalCode: cf, Kind: CareMMG,
				PractitionerFiscalCode: cfMMG}, start.Add(-time.Hour)); err != nil {
				t.Fatal(err)
			}
		case 9: // one that begins tomorrow
			if _, err := e.s.UpsertCareRelationship(ctx, registry, CareRelationship{PatientFiscalCode: cf, Kind: CareMMG,
				PractitionerFiscalCode: cfMMG, ValidFrom: start.Add(24 * time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	actors := []Actor{
		practitioner(cfMMG, auth.PractitionerMMG, ""),
		practitioner(cfPLS, auth.PractitionerPLS, ""),
		practitioner(cfDiabetolo, auth.PractitionerDiabetologist, org),
		practitioner(cfDiabetolo, auth.PractitionerDiabetologist, ""),
		practitioner(cfMMG, auth.PractitionerOther, org),
		practitioner(cfStranger, auth.PractitionerMMG, ""),
	}
	nonEmpty := 0
	for _, a := range actors {
		got, err := e.s.VisiblePatients(ctx, a)
		if err != nil {
			t.Fatalf("VisiblePatients(%v): %v", a, err)
		}
		var want []int64
		for _, pid := range pids {
			if err := e.s.Access(ctx, a, pid, ActReadData, "check", nil); err == nil {
				want = append(want, pid)
			} else if !errors.Is(err, ErrDenied) {
				t.Fatal(err)
			}
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("VisiblePatients(%v) disagrees with Access (-Access +VisiblePatients):\n%s", a, diff)
		}
		if len(got) > 0 {
			nonEmpty++
		}
	}
	if nonEmpty != 3 {
		t.Errorf("%d practitioners see someone, want 3 (MMG, PLS, diabetologist of the centre)", nonEmpty)
	}
	for _, a := range []Actor{citizen(cfPatient), registry, service("fse", ScopeReadData), {}} {
		if got, err := e.s.VisiblePatients(ctx, a); got != nil || err != nil {
			t.Errorf("VisiblePatients(%v) = %v, %v; want nil", a, got, err)
		}
	}
}

func TestRepresented(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	me := makeCF("TSTPSN", 1980, time.January, 1, false)
	a := citizen(me)
	kid := makeCF("TSTLCA", 2016, time.March, 3, false)
	elder := makeCF("TSTNNA", 1940, time.February, 2, true)
	friend := makeCF("AMCMRC", 1985, time.June, 6, false)
	lapsed := makeCF("EXPLPS", 1975, time.July, 7, false)

	reps, err := e.s.Represented(ctx, a)
	if want := []Representation{{PatientFiscalCode: me, Basis: BasisSelf}}; err != nil || !cmp.Equal(want, reps) {
		t.Fatalf("Represented(nobody) = %+v, %v; want %+v", reps, err, want)
	}
	mine := e.patient(me, time.Time{})
	kidID := e.patient(kid, time.Date(2016, 3, 3, 0, 0, 0, 0, time.UTC))
	e.guardian(GuardianParent, me, kid)
	e.guardian(GuardianTutor, me, elder) // no record yet
	friendID := e.patient(friend, time.Time{})
	if _, err := e.s.GrantDelegation(ctx, citizen(friend), friendID, me, start.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	lapsedID := e.patient(lapsed, time.Time{})
	if _, err := e.s.GrantDelegation(ctx, citizen(lapsed), lapsedID, me, start.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// A delegation on top of parenthood (granted by the other parent: a
	// minor does not delegate) does not add a second entry.
	otherParent := makeCF("LTRGNT", 1982, time.May, 5, true)
	e.guardian(GuardianParent, otherParent, kid)
	if _, err := e.s.GrantDelegation(ctx, citizen(otherParent), kidID, me, start.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(start.Add(time.Hour)) // the lapsed delegation has just expired
	reps, err = e.s.Represented(ctx, a)
	want := []Representation{
		{PatientFiscalCode: me, PatientID: mine, Basis: BasisSelf},
		{PatientFiscalCode: friend, PatientID: friendID, Basis: BasisDelegate, Until: start.Add(24 * time.Hour)},
		{PatientFiscalCode: kid, PatientID: kidID, Basis: BasisParent, Until: time.Date(2034, 3, 2, 23, 0, 0, 0, time.UTC)},
		{PatientFiscalCode: elder, Basis: BasisTutor},
	}
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, reps); diff != "" {
		t.Errorf("Represented (-want +got):\n%s", diff)
	}
	for _, x := range []Actor{practitioner(me, auth.PractitionerMMG, ""), registry, {}} {
		if got, err := e.s.Represented(ctx, x); got != nil || err != nil {
			t.Errorf("Represented(%v) = %v, %v; want nil", x, got, err)
		}
	}
}

func TestAccessLogPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pid := e.patient(cfPatient, time.Time{})
	e.setConsent(pid, cfPatient, true)
	fse := service("fse", ScopeReadData)
	fse.RequestID = "req-42"
	// Seven reads, two at the same instant.
	for i := range 7 {
		e.clock.Set(start.Add(time.Duration(i/2*2+i%2) * time.Minute).Add(time.Duration(i%2) * -time.Minute))
		if err := e.s.Access(ctx, fse, pid, ActReadData, "report "+string(rune('A'+i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	var all []AccessEntry
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		page, err := e.s.AccessLog(ctx, citizen(cfPatient), pid, 3, cursor)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) > 3 {
			t.Fatalf("page of %d entries, limit 3", len(page.Entries))
		}
		all = append(all, page.Entries...)
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if len(all) != 7 {
		t.Fatalf("paged through %d entries, want 7", len(all))
	}
	for i := 1; i < len(all); i++ {
		p, c := all[i-1], all[i]
		if c.At.After(p.At) || (c.At.Equal(p.At) && c.ID > p.ID) {
			t.Errorf("entries %d and %d out of order: %v #%d, %v #%d", i-1, i, p.At, p.ID, c.At, c.ID)
		}
	}
	first := all[0]
	want := AccessEntry{ID: first.ID, At: first.At, ActorRole: auth.RoleService, ActorID: "fse", ActorName: "fse",
		Basis: BasisService, Action: ActReadData, Detail: first.Detail, Outcome: OutcomeAllowed, Reason: ReasonAllowed, RequestID: "req-42",
		Count: 1, LastAt: first.At, LastRequestID: "req-42"}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("entry (-want +got):\n%s", diff)
	}
	// A tutor's read of the log is itself on its first page, above the
	// registry's recording of the tutorship.
	e.guardian(GuardianTutor, cfTutor, cfPatient)
	page, err := e.s.AccessLog(ctx, citizen(cfTutor), pid, 0, "")
	if err != nil || len(page.Entries) != 9 || page.Entries[1].Basis != BasisRegistry || page.Entries[0].Action != ActReadAccessLog || page.Entries[0].Basis != BasisTutor {
		t.Errorf("AccessLog(tutor) = %d entries, first %+v, %v", len(page.Entries), page.Entries, err)
	}
	for _, bad := range []struct {
		limit  int
		cursor string
	}{{-1, ""}, {501, ""}, {10, "x"}, {10, "12.x"}, {10, "12"}, {10, "12.-3"}} {
		if _, err := e.s.AccessLog(ctx, citizen(cfPatient), pid, bad.limit, bad.cursor); !errors.Is(err, ErrInvalid) {
			t.Errorf("AccessLog(%d, %q) = %v, want ErrInvalid", bad.limit, bad.cursor, err)
		}
	}
	_, err = e.s.AccessLog(ctx, practitioner(cfMMG, auth.PractitionerMMG, ""), pid, 10, "")
	wantDenied(t, err, ReasonNotPermitted)
}

// TestDelegationExpiryLimit: a delegation may expire at most five years
// ahead by default (the end of that day included), or as configured.
func TestDelegationExpiryLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pid := e.patient(cfPatient, time.Date(1980, 3, 10, 0, 0, 0, 0, time.UTC))
	me := citizen(cfPatient)
	if _, err := e.s.GrantDelegation(ctx, me, pid, cfDelegate, start.AddDate(5, 0, 0).Add(23*time.Hour)); err != nil {
		t.Errorf("GrantDelegation(5 years ahead) = %v", err)
	}
	if _, err := e.s.GrantDelegation(ctx, me, pid, cfDelegate, start.AddDate(5, 0, 1).Add(time.Hour)); !errors.Is(err, ErrInvalid) {
		t.Errorf("GrantDelegation(5 years and a day ahead) = %v, want ErrInvalid", err)
	}
	two := New(e.pool, Options{Now: e.clock.Now, MaxDelegationYears: 2})
	if _, err := two.GrantDelegation(ctx, me, pid, cfDelegate, start.AddDate(3, 0, 0)); !errors.Is(err, ErrInvalid) {
		t.Errorf("GrantDelegation(3 years ahead, limit 2) = %v, want ErrInvalid", err)
	}
}

// TestSecondaryUse: the opposition to secondary use is the patient's (or
// their parent's or tutor's) to record and withdraw, never a delegate's,
// a minor's alone or a clinician's; its history says who; the callback
// runs in the transaction only when the state changes; an analyst is
// refused every action on the record, and the refusal is logged.
func TestSecondaryUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pid := e.patient(cfPatient, time.Time{})
	child := e.patient(cfChild, time.Date(2015, 6, 2, 0, 0, 0, 0, time.UTC))
	e.guardian(GuardianParent, cfParent, cfChild)
	e.care(CareMMG, cfPatient, cfMMG, "")
	e.setConsent(pid, cfPatient, true)
	if _, err := e.s.GrantDelegation(ctx, citizen(cfPatient), pid, cfDelegate, start.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}

	st, err := e.s.SecondaryUse(ctx, citizen(cfPatient), pid)
	if err != nil || st.Opposed || len(st.History) != 0 {
		t.Fatalf("SecondaryUse(new patient) = %+v, %v; want not opposed, no history", st, err)
	}
	var calls []bool
	onChange := func(ctx context.Context, tx pgx.Tx, opposed bool) error {
		var n int
		// The callback sees the new state in the transaction.
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM secondary_use_oppositions WHERE patient_id = $1 AND opposed = $2`, pid, opposed).Scan(&n); err != nil || n != 1 {
			t.Errorf("in the callback: %d rows of the new state, %v", n, err)
		}
		calls = append(calls, opposed)
		return nil
	}
	// Withdrawing what was never recorded changes nothing.
	if st, err = e.s.SetSecondaryUseOpposition(ctx, citizen(cfPatient), pid, false, onChange); err != nil || st.Opposed || len(calls) != 0 {
		t.Fatalf("withdraw before any opposition: %+v, %v, %d callbacks", st, err, len(calls))
	}
	if st, err = e.s.SetSecondaryUseOpposition(ctx, citizen(cfPatient), pid, true, onChange); err != nil || !st.Opposed {
		t.Fatalf("oppose: %+v, %v", st, err)
	}
	e.clock.Set(start.Add(time.Hour))
	if _, err = e.s.SetSecondaryUseOpposition(ctx, citizen(cfPatient), pid, true, onChange); err != nil {
		t.Fatalf("oppose again: %v", err)
	}
	if !slices.Equal(calls, []bool{true}) {
		t.Errorf("callbacks %v, want one, for the change", calls)
	}
	for _, a := range []Actor{citizen(cfDelegate), practitioner(cfMMG, auth.PractitionerMMG, ""), service("fse", ScopeReadData),
		analyst(cfStranger, "region"), citizen(cfStranger)} {
		_, err := e.s.SetSecondaryUseOpposition(ctx, a, pid, false, onChange)
		if !errors.Is(err, ErrDenied) {
			t.Errorf("SetSecondaryUseOpposition as %v = %v, want a denial", a, err)
		}
	}
	// A failing callback rolls the change back.
	boom := errors.New("boom")
	if _, err := e.s.SetSecondaryUseOpposition(ctx, citizen(cfPatient), pid, false,
		func(context.Context, pgx.Tx, bool) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("failing callback: %v", err)
	}
	t2 := start.Add(2 * time.Hour)
	e.clock.Set(t2)
	if st, err = e.s.SetSecondaryUseOpposition(ctx, citizen(cfPatient), pid, false, onChange); err != nil || st.Opposed {
		t.Fatalf("withdraw: %+v, %v", st, err)
	}
	want := []SecondaryUseChange{{Opposed: true, At: start, By: cfPatient, As: BasisSelf}, {Opposed: false, At: t2, By: cfPatient, As: BasisSelf}}
	if diff := cmp.Diff(want, st.History); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}

	// A minor's choice is their parent's.
	_, err = e.s.SetSecondaryUseOpposition(ctx, citizen(cfChild), child, true, nil)
	wantDenied(t, err, ReasonMinor)
	if st, err := e.s.SetSecondaryUseOpposition(ctx, citizen(cfParent), child, true, nil); err != nil || !st.Opposed ||
		st.History[0].As != BasisParent {
		t.Fatalf("parent opposes: %+v, %v", st, err)
	}
	if st, err := e.s.SecondaryUse(ctx, citizen(cfChild), child); err != nil || !st.Opposed {
		t.Errorf("the minor reads their choice: %+v, %v", st, err)
	}
	var ids []int64
	rows, _ := e.pool.Query(ctx, OpposedSQL())
	if ids, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil || !slices.Equal(ids, []int64{child}) {
		t.Errorf("OpposedSQL = %v, %v; want [%d]", ids, err, child)
	}

	// An analyst is refused even a read of the choice, and it is logged
	// with the analyst's role.
	_, err = e.s.SecondaryUse(ctx, analyst(cfStranger, "region"), pid)
	wantDenied(t, err, ReasonNotPermitted)
	wantDenied(t, e.read(analyst(cfStranger, "region"), pid), ReasonNotPermitted)
	var n int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM access_log WHERE patient_id = $1 AND actor_role = 'analyst'
		AND actor_id = $2 AND outcome = 'denied'`, pid, cfStranger).Scan(&n); err != nil || n < 2 {
		t.Errorf("analyst's refusals logged: %d, %v", n, err)
	}
}

// TestResidence: the registry records a residence (idempotently, logged
// when it changes), refuses a bad comune code, and the patient reads it
// with the care relationships.
func TestResidence(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pid := e.patient(cfPatient, time.Time{})
	r := Residence{PatientFiscalCode: cfPatient, Municipality: "048017", Source: "anagrafe"}
	got, err := e.s.UpsertResidence(ctx, registry, r)
	if err != nil || got != r {
		t.Fatalf("UpsertResidence = %+v, %v", got, err)
	}
	if _, err := e.s.UpsertResidence(ctx, registry, r); err != nil {
		t.Fatal(err)
	}
	r.Municipality = "100005"
	if got, err = e.s.UpsertResidence(ctx, registry, r); err != nil || got.Municipality != "100005" {
		t.Fatalf("move: %+v, %v", got, err)
	}
	// A person without a record: stored, nothing logged.
	if _, err := e.s.UpsertResidence(ctx, registry, Residence{PatientFiscalCode: cfChild, Municipality: "053011"}); err != nil {
		t.Fatal(err)
	}
	var writes int
	for _, l := range e.log(pid) {
		if l.Action == string(ActWriteCareRelationships) && l.Detail == "record residence" {
			writes++
		}
	}
	if writes != 2 {
		t.Errorf("%d residence changes logged, want 2 (the unchanged write logs nothing)", writes)
	}
	for name, bad := range map[string]Residence{
		"five digits":  {PatientFiscalCode: cfPatient, Municipality: "48017"},
		"letters":      {PatientFiscalCode: cfPatient, Municipality: "H501AA"},
		"bad patient":  {PatientFiscalCode: "RSSMRA85T10A562X", Municipality: "048017"},
		"long source":  {PatientFiscalCode: cfPatient, Municipality: "048017", Source: strings.Repeat("x", 65)},
		"no fiscal cf": {Municipality: "048017"},
	} {
		if _, err := e.s.UpsertResidence(ctx, registry, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("UpsertResidence(%s) = %v, want ErrInvalid", name, err)
		}
	}
	_, err = e.s.UpsertResidence(ctx, citizen(cfPatient), r)
	wantDenied(t, err, ReasonNotPermitted)
	reg, err := e.s.Registry(ctx, citizen(cfPatient), pid)
	if err != nil || reg.Residence == nil || *reg.Residence != r {
		t.Fatalf("Registry = %+v, %v", reg, err)
	}
	_, err = e.s.Registry(ctx, analyst(cfStranger, "region"), pid)
	wantDenied(t, err, ReasonNotPermitted)
}
