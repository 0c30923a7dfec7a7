package connsync

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/glucosim"
	"fsecgm/connectors/librelinkup"
	"fsecgm/connectors/librelinkup/librelinkuptest"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

func sprint(v any) string { return fmt.Sprintf("%+v", v) }

// printedSerial returns the serial fake patient n's app shows now.
func printedSerial(e *testEnv, n int) string {
	sim := e.sim(n)
	s, ok := sim.SensorAt(e.clock.Now())
	if !ok {
		e.t.Fatalf("patient %d wears no sensor now", n)
	}
	if sim.Model() == glucosim.Libre2 {
		return "3" + s.Serial
	}
	return strings.TrimSuffix(s.Serial, "0")
}

func TestFollowerBinding(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3, 1, nil)
	ctx := context.Background()
	follower := e.accounts[3]
	fa, err := e.syncer.AddFollowerAccount(ctx, "Regione Toscana", "", librelinkup.Credentials{Email: follower.Email, Password: follower.Password})
	if err != nil || fa.State != StateActive {
		t.Fatalf("AddFollowerAccount = %+v, %v", fa, err)
	}
	st := e.syncDue()
	if st.Lists != 1 {
		t.Fatalf("SyncDue = %+v, want one follower list", st)
	}
	pending, err := e.syncer.PendingConnections(ctx, e.pool)
	if err != nil || len(pending) != 3 {
		t.Fatalf("PendingConnections = %+v, %v; want 3", pending, err)
	}
	bind := func(p cgmstore.Patient, serial string) (Connection, error) {
		var c Connection
		err := e.tx(func(tx pgx.Tx) error {
			var err error
			c, err = e.syncer.Bind(ctx, tx, p.ID, BindRequest{Serial: serial, Actor: "patient " + p.PublicID[:6]})
			return err
		})
		return c, err
	}
	code := func(err error) string {
		var ue *UserError
		if errorsAs(err, &ue) && errorsIs(err, ErrRefused) {
			return ue.Code
		}
		return fmt.Sprintf("not a refusal: %v", err)
	}

	p0 := e.patient(0)
	// Wrong serial: refused.
	if _, err := bind(p0, "0XXXXXXXXX"); code(err) != "serial_mismatch" {
		t.Errorf("Bind with a wrong serial: %s", code(err))
	}
	// Patient 1's serial typed by patient 0 (the name does not match): refused.
	if _, err := bind(p0, printedSerial(e, 1)); code(err) != "name_mismatch" {
		t.Errorf("Bind with another person's serial: %s", code(err))
	}
	// A patient without names in the FSE identity whose fiscal code
	// does not derive from the followed person's names: refused.
	anon, _, err := e.store.EnsurePatient(ctx, fiscalCode(50), "")
	must(t, err)
	if _, err := bind(anon, printedSerial(e, 2)); code(err) != "name_mismatch" {
		t.Errorf("Bind by a patient whose fiscal code names someone else: %s", code(err))
	}
	// The right serial and the right name: bound.
	c, err := bind(p0, printedSerial(e, 0))
	if err != nil || c.Mode != ModeFollower || c.Account != "Regione Toscana" || c.State != StateActive {
		t.Fatalf("Bind with evidence = %+v, %v", c, err)
	}
	// Accents and case in the name do not matter.
	p2 := e.patient(2)
	p2.FamilyName = strings.ToUpper(p2.FamilyName)
	_, err = e.store.UpdatePatient(ctx, p2)
	must(t, err)
	if _, err := bind(p2, strings.ToLower(printedSerial(e, 2))); err != nil {
		t.Errorf("Bind with an upper-case surname: %v", err)
	}
	// The audit holds every attempt.
	rows, _ := e.pool.Query(ctx, `SELECT outcome || ' ' || name_check || ' ' || (serial IS NOT NULL)::text FROM llu_bindings ORDER BY id`)
	audit, err := pgx.CollectRows(rows, pgx.RowTo[string])
	must(t, err)
	want := []string{"serial_mismatch not_checked false", "name_mismatch mismatch false", "name_mismatch mismatch false",
		"bound match true", "bound match true"}
	if diff := cmp.Diff(want, audit); diff != "" {
		t.Errorf("binding audit (-want +got):\n%s", diff)
	}
	if n := e.count(`SELECT count(*) FROM llu_bindings WHERE actor = ''`); n != 0 {
		t.Errorf("audit rows without an actor: %d", n)
	}

	// The bound connections sync through the follower account's session,
	// without logging in again.
	logins := e.fake.Stats(follower.Email).SuccessfulLogins
	if st := e.syncDue(); st.Synced != 2 || st.Failed != 0 {
		t.Fatalf("SyncDue of bound connections = %+v", st)
	}
	if got := e.fake.Stats(follower.Email).SuccessfulLogins; got != logins {
		t.Errorf("logins to the follower account: %d, want %d", got, logins)
	}
	if rs := e.historic(p0); len(rs) == 0 {
		t.Errorf("no readings through the follower connection")
	}
	// The next list shows only the unbound person.
	e.due()
	e.syncDue()
	if pending, _ := e.syncer.PendingConnections(ctx, e.pool); len(pending) != 1 {
		t.Errorf("pending after binding = %d, want 1", len(pending))
	}
	// A patient who stops sharing: the connection reports it.
	must(t, e.fake.Unfollow(follower.Email, e.accounts[0].Follows[0]))
	e.due()
	e.syncDue()
	if got := e.conn(p0, c.ID); got.State != StateError || got.Problem == nil || got.Problem.Kind != "patient not found" {
		t.Errorf("after unsharing: %s %+v", got.State, got.Problem)
	}

	// Five refusals in a day: further attempts are refused unchecked.
	p1 := e.patient(1)
	for range 5 {
		_, _ = bind(p1, "0BADBADBAD")
	}
	if _, err := bind(p1, printedSerial(e, 1)); code(err) != "too_many_attempts" {
		t.Errorf("Bind after five refusals: %s", code(err))
	}
}

// TestFollowerAccountFaults: logins to one follower account are never made
// in parallel, and a refused password stops all of its connections
// without further logins.
func TestFollowerAccountFaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 6, 1, func(c *Config) { c.Workers = 6 })
	ctx := context.Background()
	follower := e.accounts[6]
	_, err := e.syncer.AddFollowerAccount(ctx, "Regione", "", librelinkup.Credentials{Email: follower.Email, Password: follower.Password})
	must(t, err)
	e.syncDue()
	for i := range 6 {
		p := e.patient(i)
		err := e.tx(func(tx pgx.Tx) error {
			_, err := e.syncer.Bind(ctx, tx, p.ID, BindRequest{Serial: printedSerial(e, i), Actor: "test"})
			return err
		})
		must(t, err)
	}
	e.syncDue()
	// The token expires: six connections due at once need a new login;
	// exactly one is made (the others reuse its session), and the fake
	// sees no two logins at the same time.
	must(t, e.fake.ExpireTokens(follower.Email))
	before := e.fake.Stats(follower.Email).SuccessfulLogins
	e.clock.Advance(10 * time.Minute)
	e.due()
	e.exec(`UPDATE llu_accounts SET next_list_at = now() + interval '1 hour'`)
	if st := e.syncDue(); st.Synced != 6 || st.Failed != 0 {
		rows, _ := e.pool.Query(ctx, `SELECT coalesce(error_message, '') FROM sync_connections`)
		msgs, _ := pgx.CollectRows(rows, pgx.RowTo[string])
		t.Fatalf("SyncDue after the token expired = %+v %q", st, msgs)
	}
	if got := e.fake.Stats(follower.Email).SuccessfulLogins - before; got != 1 {
		t.Errorf("logins after the token expired = %d, want 1", got)
	}
	// The password changes: one failed login, then none.
	must(t, e.fake.SetPassword(follower.Email, "changed"))
	must(t, e.fake.ExpireTokens(follower.Email))
	for range 3 {
		e.clock.Advance(10 * time.Minute)
		e.due()
		e.syncDue()
	}
	if got := e.fake.Stats(follower.Email); got.FailedLogins != 1 {
		t.Errorf("failed logins = %d, want 1", got.FailedLogins)
	}
	if n := e.count(`SELECT count(*) FROM sync_connections WHERE state = 'bad_credentials' AND advice_it LIKE '%account regionale%'`); n != 6 {
		t.Errorf("connections in bad_credentials with the operator's advice = %d, want 6", n)
	}
	fs, err := e.syncer.FollowerAccounts(ctx, e.pool)
	if err != nil || len(fs) != 1 || fs[0].Connections != 6 {
		t.Fatalf("FollowerAccounts = %+v, %v", fs, err)
	}
	// The operator fixes it.
	if _, err := e.syncer.UpdateFollowerCredentials(ctx, "Regione", librelinkup.Credentials{Email: follower.Email, Password: "changed"}); err != nil {
		t.Fatal(err)
	}
	if st := e.syncDue(); st.Synced != 6 || st.Failed != 0 {
		t.Errorf("SyncDue after the fix = %+v", st)
	}
	_ = librelinkuptest.DefaultGraphLag
}

// TestDisconnect: a disconnected connection stops syncing and loses its
// secrets; with deletion, its readings go and the metrics are marked.
func TestDisconnect(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2, 0, nil)
	ctx := context.Background()
	p0, c0 := e.connect(0)
	p1, c1 := e.connect(1)
	e.syncDue()
	// An unrelated reading of another source inside the window stays.
	if len(e.historic(p0)) == 0 || len(e.historic(p1)) == 0 {
		t.Fatal("no readings")
	}
	var r0, r1 DisconnectResult
	err := e.tx(func(tx pgx.Tx) error {
		var err error
		if r0, err = e.syncer.Disconnect(ctx, tx, p0.ID, c0.ID, false); err != nil {
			return err
		}
		r1, err = e.syncer.Disconnect(ctx, tx, p1.ID, c1.ID, true)
		return err
	})
	must(t, err)
	if r0.Connection.State != StateDisconnected || r0.DeletedReadings != 0 || len(e.historic(p0)) == 0 {
		t.Errorf("disconnect keeping readings: %+v", r0)
	}
	if r1.DeletedReadings == 0 || len(e.historic(p1)) != 0 {
		t.Errorf("disconnect deleting readings: %+v, %d historic left", r1, len(e.historic(p1)))
	}
	cov, err := e.store.Coverage(ctx, p1.ID)
	if err != nil || cov.Count != 0 {
		t.Errorf("coverage after deletion = %+v, %v", cov, err)
	}
	if n := e.count(`SELECT count(*) FROM llu_accounts WHERE cred_sealed IS NOT NULL OR session_sealed IS NOT NULL`); n != 0 {
		t.Errorf("%d accounts keep secrets after disconnecting", n)
	}
	e.due()
	if st := e.syncDue(); st.Synced != 0 {
		t.Errorf("SyncDue after disconnecting = %+v", st)
	}
	// Disconnecting another patient's connection: not found.
	err = e.tx(func(tx pgx.Tx) error { _, err := e.syncer.Disconnect(ctx, tx, p1.ID, c0.ID, false); return err })
	if !errorsIs(err, ErrNotFound) {
		t.Errorf("Disconnect of another patient's connection = %v", err)
	}
	// The account can be connected again.
	err = e.tx(func(tx pgx.Tx) error {
		_, err := e.syncer.Connect(ctx, tx, p1.ID, ConnectRequest{Email: e.accounts[1].Email, Password: e.accounts[1].Password})
		return err
	})
	must(t, err)
}
