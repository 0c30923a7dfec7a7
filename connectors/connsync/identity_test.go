package connsync

import (
	"context"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/librelinkup"
	"fsecgm/connectors/librelinkup/librelinkuptest"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// connectWith connects patient p with fake account a's credentials.
func (e *testEnv) connectWith(p cgmstore.Patient, a librelinkuptest.Account, serial string) (Connection, error) {
	var c Connection
	err := e.tx(func(tx pgx.Tx) error {
		var err error
		c, err = e.syncer.Connect(context.Background(), tx, p.ID, ConnectRequest{Email: a.Email, Password: a.Password, Serial: serial})
		return err
	})
	return c, err
}

// TestConnectAnotherPerson: an account that follows someone other than the
// patient is refused with a message naming that person, and nothing is
// stored (issue 14: another person's glucose merged into Mario's record).
func TestConnectAnotherPerson(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2, 0, nil)
	p0 := e.patient(0)
	other := e.accounts[1]
	_, err := e.connectWith(p0, other, "")
	var ue *UserError
	if !errorsAs(err, &ue) || ue.Code != "identity_mismatch" || !errorsIs(err, ErrRefused) {
		t.Fatalf("Connect with an account following someone else = %v, want an identity_mismatch refusal", err)
	}
	name := other.FirstName + " " + other.LastName
	if !strings.Contains(ue.Text.IT, "«"+name+"»") || !strings.Contains(ue.Text.EN, name) {
		t.Errorf("the refusal does not name the followed person %q: %q", name, ue.Text.IT)
	}
	if n := e.count(`SELECT count(*) FROM sync_connections`) + e.count(`SELECT count(*) FROM llu_accounts`) +
		e.count(`SELECT count(*) FROM readings`); n != 0 {
		t.Errorf("rows stored after the refusal: %d", n)
	}
	// The serial of the other person's sensor does not help either.
	if _, err := e.connectWith(p0, other, printedSerial(e, 1)); !errorsAs(err, &ue) || ue.Code != "identity_mismatch" {
		t.Errorf("Connect with the other person's serial = %v, want identity_mismatch", err)
	}
	// The patient's own account connects.
	if c, err := e.connectWith(p0, e.accounts[0], ""); err != nil || c.State != StateActive {
		t.Fatalf("Connect with the patient's own account = %+v, %v", c, err)
	}
}

// TestConnectPicksThePatient: an account that follows several people is
// connected to the one whose name matches the patient, without a serial.
func TestConnectPicksThePatient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3, 0, nil)
	p1 := e.patient(1)
	family := librelinkuptest.Account{Email: "famiglia@example.invalid", Password: "Famiglia-1", Region: "eu",
		FirstName: "Genitore", LastName: "Condiviso"}
	must(t, e.fake.AddAccount(family))
	for _, n := range []int{0, 1, 2} {
		must(t, e.fake.Follow(family.Email, e.followedID(n)))
	}
	// A patient none of the three is refused, with the three names.
	stranger := e.patient(10)
	_, err := e.connectWith(stranger, family, "")
	var ue *UserError
	if !errorsAs(err, &ue) || ue.Code != "identity_mismatch" {
		t.Fatalf("Connect by a patient the account does not follow = %v", err)
	}
	for _, n := range []int{0, 1, 2} {
		if name := e.accounts[n].FirstName + " " + e.accounts[n].LastName; !strings.Contains(ue.Text.IT, name) {
			t.Errorf("the refusal does not name %q: %s", name, ue.Text.IT)
		}
	}
	c, err := e.connectWith(p1, family, "")
	if err != nil {
		t.Fatalf("Connect with an account following three people = %v", err)
	}
	e.syncDue()
	if got := e.conn(p1, c.ID); got.State != StateActive || got.NewestReadingAt.IsZero() {
		t.Fatalf("after the sync: %+v", got)
	}
	var llu string
	must(t, e.pool.QueryRow(context.Background(), `SELECT l.llu_patient_id FROM llu_links l JOIN sync_connections c ON c.id = l.connection_id WHERE c.public_id = $1`, c.ID).Scan(&llu))
	if llu != e.followedID(1) {
		t.Errorf("bound to LibreLinkUp patient %s, want %s (patient 1)", llu, e.followedID(1))
	}
}

// TestSyncStopsOnAnotherPerson: a connection bound before the identity
// check to someone else's data (as in the demo that merged two people)
// stops at its next sync, in state identity_mismatch, and stores nothing.
func TestSyncStopsOnAnotherPerson(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2, 0, nil)
	p0 := e.patient(0)
	_, c := e.connect(1)
	// The old binding: the connection of account 1 given to patient 0.
	e.exec(`UPDATE sync_connections SET patient_id = $1 WHERE public_id = $2`, p0.ID, c.ID)
	st := e.syncDue()
	if st.Synced != 1 || st.Failed != 1 || st.Inserted != 0 {
		t.Fatalf("SyncDue = %+v, want one failed sync inserting nothing", st)
	}
	got := e.conn(p0, c.ID)
	if got.State != StateIdentityMismatch || got.Problem == nil || got.Problem.Kind != "identity_mismatch" {
		t.Fatalf("after the sync: %+v", got)
	}
	name := e.accounts[1].FirstName + " " + e.accounts[1].LastName
	if !strings.Contains(got.Problem.Advice.IT, name) {
		t.Errorf("advice does not name the followed person: %q", got.Problem.Advice.IT)
	}
	if n := e.count(`SELECT count(*) FROM readings`); n != 0 {
		t.Errorf("readings stored: %d", n)
	}
	// It is not synced again.
	e.due()
	if st := e.syncDue(); st.Synced != 0 {
		t.Errorf("a stopped connection was synced again: %+v", st)
	}
}

// TestStepThenAnotherPerson: an account connected with a pending step (its
// followed person unknown) is checked at its first sync after the step.
func TestStepThenAnotherPerson(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2, 0, nil)
	p0 := e.patient(0)
	must(t, e.fake.SetSteps(e.accounts[1].Email, "tou"))
	c, err := e.connectWith(p0, e.accounts[1], "")
	if err != nil || c.State != StateActionNeeded {
		t.Fatalf("Connect with a pending step = %+v, %v", c, err)
	}
	must(t, e.fake.SetSteps(e.accounts[1].Email))
	e.due()
	e.syncDue()
	got := e.conn(p0, c.ID)
	if got.State != StateIdentityMismatch || got.Problem == nil || got.Problem.Kind != "identity_mismatch" {
		t.Fatalf("after the step: %+v", got)
	}
	if n := e.count(`SELECT count(*) FROM readings`); n != 0 {
		t.Errorf("readings stored: %d", n)
	}
}

// followedID is the LibreLinkUp patient id that fake account n follows.
func (e *testEnv) followedID(n int) string { return e.accounts[n].Follows[0] }

// TestPurgeMismatch: the readings that a connection bound to the wrong
// person stored before the identity check existed are found and removed;
// the patient's own readings and the other person's record are untouched.
func TestPurgeMismatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2, 0, nil)
	ctx := context.Background()
	p0 := e.patient(0)
	p1, c := e.connect(1)
	e.syncDue()
	foreign := e.historic(p1)
	if len(foreign) == 0 {
		t.Fatal("no readings synced for patient 1")
	}
	// Patient 0's own readings, uploaded from a file, over the same hours.
	var own []cgm.Reading
	for _, r := range foreign {
		own = append(own, cgm.Reading{Time: r.Time.Add(-5 * time.Minute), Value: 111, Unit: cgm.MgDL, Kind: cgm.Historic})
	}
	_, err := e.store.Ingest(ctx, cgmstore.Batch{Patient: p0.ID, Source: cgmstore.SourceLibreView, Readings: own})
	must(t, err)
	// What the code before the identity check did: the connection bound
	// to patient 0, and patient 1's glucose stored in patient 0's record.
	e.exec(`UPDATE sync_connections SET patient_id = $1 WHERE public_id = $2`, p0.ID, c.ID)
	_, err = e.store.Ingest(ctx, cgmstore.Batch{Patient: p0.ID, Source: cgmstore.SourceLibreLinkUp, Readings: foreign})
	must(t, err)
	if got := len(e.historic(p0)); got != len(own)+len(foreign) {
		t.Fatalf("patient 0 holds %d readings before, want %d", got, len(own)+len(foreign))
	}
	// The next sync finds the mismatch.
	e.due()
	e.syncDue()
	ms, err := e.syncer.Mismatches(ctx, e.pool)
	if err != nil || len(ms) != 1 || ms[0].Connection.ID != c.ID || ms[0].Oldest.IsZero() || !ms[0].PurgedAt.IsZero() {
		t.Fatalf("Mismatches = %+v, %v", ms, err)
	}
	// The patient disconnects it (as the advice says); it can still be purged.
	err = e.tx(func(tx pgx.Tx) error {
		_, err := e.syncer.Disconnect(ctx, tx, p0.ID, c.ID, false)
		return err
	})
	must(t, err)
	var res PurgeResult
	err = e.tx(func(tx pgx.Tx) error {
		var err error
		res, err = e.syncer.Purge(ctx, tx, c.ID, false)
		return err
	})
	if err != nil || res.AlreadyPurged || res.Removed.Deleted != int64(len(foreign)) || res.Mismatch.PurgedAt.IsZero() {
		t.Fatalf("Purge = %+v, %v; want %d readings deleted", res, err, len(foreign))
	}
	if diff := cmp.Diff(gotHistoric(own), gotHistoric(e.historic(p0))); diff != "" {
		t.Errorf("patient 0 after the purge (-own +got):\n%s", diff)
	}
	if got := len(e.historic(p1)); got != len(foreign) {
		t.Errorf("patient 1 holds %d readings after the purge, want %d", got, len(foreign))
	}
	// Twice: nothing more.
	err = e.tx(func(tx pgx.Tx) error {
		var err error
		res, err = e.syncer.Purge(ctx, tx, c.ID, false)
		return err
	})
	if err != nil || !res.AlreadyPurged || res.Removed != (cgmstore.Removed{}) {
		t.Errorf("second Purge = %+v, %v", res, err)
	}
	// A connection that never mismatched cannot be purged.
	_, c0 := e.connect(0)
	err = e.tx(func(tx pgx.Tx) error {
		_, err := e.syncer.Purge(ctx, tx, c0.ID, false)
		return err
	})
	if !errorsIs(err, ErrConflict) {
		t.Errorf("Purge of a sound connection = %v, want ErrConflict", err)
	}
}

// TestFollowerModeNeedsAnAccount: until the operator configures the
// region's follower account, the mode is not offered and binding is
// refused.
func TestFollowerModeNeedsAnAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1, 1, nil)
	ctx := context.Background()
	if ok, err := e.syncer.FollowerModeAvailable(ctx, e.pool); err != nil || ok {
		t.Fatalf("FollowerModeAvailable before any account = %v, %v; want false", ok, err)
	}
	p0 := e.patient(0)
	err := e.tx(func(tx pgx.Tx) error {
		_, err := e.syncer.Bind(ctx, tx, p0.ID, BindRequest{Serial: printedSerial(e, 0), Actor: "patient"})
		return err
	})
	var ue *UserError
	if !errorsAs(err, &ue) || ue.Code != "follower_unavailable" || !errorsIs(err, ErrConflict) {
		t.Fatalf("Bind without a follower account = %v, want follower_unavailable", err)
	}
	region := e.accounts[1]
	if _, err := e.syncer.AddFollowerAccount(ctx, "Regione Toscana", "", librelinkup.Credentials{Email: region.Email, Password: region.Password}); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.syncer.FollowerModeAvailable(ctx, e.pool); err != nil || !ok {
		t.Errorf("FollowerModeAvailable after AddFollowerAccount = %v, %v; want true", ok, err)
	}
}
