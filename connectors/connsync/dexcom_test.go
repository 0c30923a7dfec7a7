package connsync

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/dexcom"
	"fsecgm/connectors/dexcom/dexcomtest"
	"fsecgm/connectors/glucosim"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

const dexcomRedirect = "https://taccuino.example.invalid/taccuino/dexcom/callback"

// dexcomEnv is a testEnv whose Syncer also syncs a fake Dexcom with
// users simulated patients.
type dexcomEnv struct {
	*testEnv
	dx   *dexcomtest.Server
	sims []*glucosim.Patient
}

func newDexcomEnv(t *testing.T, users int, opts dexcomtest.Options, mod func(*DexcomConfig)) *dexcomEnv {
	t.Helper()
	opts.RedirectURIs = []string{dexcomRedirect}
	dx := dexcomtest.New(opts)
	rome, err := cgm.Zone("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	d := &dexcomEnv{dx: dx}
	for i := range users {
		sim := glucosim.New(uint64(1000+i), glucosim.Libre3, rome)
		d.sims = append(d.sims, sim)
		if _, err := dx.AddUser(dexcomtest.User{Username: fmt.Sprintf("SandboxUser%d", i+1), Sim: sim}); err != nil {
			t.Fatal(err)
		}
	}
	base := dx.Start()
	t.Cleanup(dx.Close)
	d.testEnv = newEnv(t, users, 0, func(c *Config) {
		c.Dexcom = &DexcomConfig{Client: dexcom.Config{BaseURL: base, ClientID: dx.ClientID(), ClientSecret: dx.ClientSecret(),
			RedirectURI: dexcomRedirect, HTTPClient: dexcom.NewHTTPClient(5 * time.Second)}, Interval: time.Minute,
			Budget: BudgetConfig{PerMinute: 60000, Burst: 1000}, Backfill: 2 * 24 * time.Hour}
		if mod != nil {
			mod(c.Dexcom)
		}
	})
	return d
}

// connectDexcom runs patient n's Dexcom authorization as the browser
// would: start, Dexcom's consent page, the callback.
func (d *dexcomEnv) connectDexcom(n int, actor string) (cgmstore.Patient, Connection, error) {
	d.t.Helper()
	ctx := context.Background()
	p := d.patient(n)
	var authURL string
	must(d.t, d.tx(func(tx pgx.Tx) error {
		var err error
		authURL, err = d.syncer.StartDexcom(ctx, tx, p.ID, actor)
		return err
	}))
	back, err := d.dx.Approve(authURL, fmt.Sprintf("SandboxUser%d", n+1), true)
	if err != nil {
		d.t.Fatal(err)
	}
	u, _ := url.Parse(back)
	c, err := d.finish(p.ID, actor, u.Query())
	return p, c, err
}

func (d *dexcomEnv) finish(patientID int64, actor string, q url.Values) (Connection, error) {
	var c Connection
	err := d.tx(func(tx pgx.Tx) error {
		var err error
		c, err = d.syncer.FinishDexcom(context.Background(), tx, patientID, actor, q)
		return err
	})
	return c, err
}

// TestDexcomConnectAndSync: a patient connects Dexcom through the
// authorization code flow; the syncs store the user's values (the first
// two days back, then what is new), the transmitter as the device, and
// refresh the token when it expires, keeping the new refresh token even
// though the old one is spent; a withdrawn consent stops the connection
// with advice to connect again, and no request follows.
func TestDexcomConnectAndSync(t *testing.T) {
	t.Parallel()
	d := newDexcomEnv(t, 1, dexcomtest.Options{}, nil)
	ctx := context.Background()
	p, c, err := d.connectDexcom(0, "citizen:test")
	if err != nil {
		t.Fatal(err)
	}
	if c.Source != SourceDexcom || c.State != StateActive || c.Label != "Dexcom" {
		t.Fatalf("connection = %+v", c)
	}
	start := time.Now()
	if st := d.syncDue(); st.Synced != 1 || st.Failed != 0 || st.Inserted == 0 {
		t.Fatalf("first SyncDue = %+v", st)
	}
	got, err := d.store.Readings(ctx, p.ID, start.Add(-3*24*time.Hour), time.Now().Add(time.Hour), cgm.Historic)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0].Time.Sub(start.Add(-2*24*time.Hour)).Abs() > 5*time.Minute {
		t.Fatalf("stored %d readings from %v, want two days back from %v", len(got), got, start)
	}
	var wantS, gotS []string
	for _, w := range d.sims[0].Historic(got[0].Time, got[len(got)-1].Time.Add(time.Second)) {
		v := float64(w.MgDL)
		if w.MgDL > 400 {
			v = 400
		}
		wantS = append(wantS, fmt.Sprintf("%s %g", w.Time.Truncate(time.Second).UTC().Format(time.RFC3339), v))
	}
	for _, r := range got {
		gotS = append(gotS, fmt.Sprintf("%s %g", r.Time.UTC().Format(time.RFC3339), r.Value))
	}
	if diff := cmp.Diff(wantS, gotS); diff != "" {
		t.Fatalf("stored readings differ from the simulator's (-want +got):\n%s", diff)
	}
	devs, err := d.store.Devices(ctx, p.ID)
	if err != nil || len(devs) != 1 || devs[0].Model != "Dexcom G7" {
		t.Errorf("devices = %+v, %v; want the G7 transmitter", devs, err)
	}
	// The access token expires: the next sync refreshes it once, and the
	// sync after uses the stored new token (the old refresh token is
	// spent: using it again would be refused).
	must(t, d.dx.ExpireAccess("SandboxUser1"))
	d.due()
	if st := d.syncDue(); st.Synced != 1 || st.Failed != 0 {
		t.Fatalf("SyncDue after the token expired = %+v", st)
	}
	must(t, d.dx.ExpireAccess("SandboxUser1"))
	d.due()
	if st := d.syncDue(); st.Synced != 1 || st.Failed != 0 {
		t.Fatalf("second SyncDue after expiry = %+v", st)
	}
	if s := d.dx.Stats("SandboxUser1"); s.Refreshes != 2 || s.RefusedGrants != 0 {
		t.Errorf("fake stats %+v: want 2 refreshes, none refused", s)
	}
	// The patient withdraws the consent at Dexcom.
	must(t, d.dx.Revoke("SandboxUser1"))
	d.due()
	if st := d.syncDue(); st.Failed != 1 {
		t.Fatalf("SyncDue after the consent was withdrawn = %+v", st)
	}
	c = d.conn(p, c.ID)
	if c.State != StateBadCredentials || c.Problem == nil || c.Problem.Kind != "authorization revoked" ||
		!strings.Contains(c.Problem.Advice.IT, "collegarlo di nuovo") {
		t.Fatalf("connection after revocation = state %s, problem %+v", c.State, c.Problem)
	}
	before := d.dx.Stats("SandboxUser1")
	d.due()
	d.syncDue()
	if after := d.dx.Stats("SandboxUser1"); after != before {
		t.Errorf("requests after the consent was withdrawn: %+v → %+v, want none", before, after)
	}
	// Reconnecting: a disconnected connection frees the Dexcom account.
	must(t, d.tx(func(tx pgx.Tx) error {
		_, err := d.syncer.Disconnect(ctx, tx, p.ID, c.ID, false)
		return err
	}))
	if _, c2, err := d.connectDexcom(0, "citizen:test"); err != nil || c2.State != StateActive {
		t.Fatalf("reconnect = %+v, %v", c2, err)
	}
	if n := d.count(`SELECT count(*) FROM sync_connections WHERE source = 'dexcom' AND secret_sealed IS NOT NULL`); n != 1 {
		t.Errorf("%d Dexcom connections hold tokens, want only the live one", n)
	}
}

// TestDexcomCallbackRefusals: the callback completes an authorization
// only for the patient and the person who started it, once, within ten
// minutes; a declined consent stores nothing; one Dexcom account serves
// one live connection.
func TestDexcomCallbackRefusals(t *testing.T) {
	t.Parallel()
	d := newDexcomEnv(t, 2, dexcomtest.Options{}, nil)
	ctx := context.Background()
	p := d.patient(0)
	other := d.patient(1)
	start := func() url.Values {
		var authURL string
		must(t, d.tx(func(tx pgx.Tx) error {
			var err error
			authURL, err = d.syncer.StartDexcom(ctx, tx, p.ID, "citizen:a")
			return err
		}))
		back, err := d.dx.Approve(authURL, "SandboxUser1", true)
		must(t, err)
		u, _ := url.Parse(back)
		return u.Query()
	}
	refused := func(name string, err error, code string) {
		t.Helper()
		var ue *UserError
		if !errors.As(err, &ue) || ue.Code != code || ue.Text.IT == "" {
			t.Errorf("%s: %v, want a refusal %q", name, err, code)
		}
	}
	// Another person completing it.
	q := start()
	if got, err := d.syncer.DexcomPatient(ctx, d.pool, q.Get("state")); err != nil || got != p.ID {
		t.Fatalf("DexcomPatient = %d, %v", got, err)
	}
	_, err := d.finish(p.ID, "citizen:b", q)
	refused("another actor", err, "authorization_unknown")
	// The state is used up even so.
	_, err = d.finish(p.ID, "citizen:a", q)
	refused("a used state", err, "authorization_unknown")
	// Another patient's record.
	q = start()
	_, err = d.finish(other.ID, "citizen:a", q)
	refused("another patient", err, "authorization_unknown")
	// Expired.
	q = start()
	d.exec(`UPDATE sync_authorizations SET expires_at = now() - interval '1 s'`)
	_, err = d.finish(p.ID, "citizen:a", q)
	refused("an expired state", err, "authorization_unknown")
	// Declined at Dexcom.
	var authURL string
	must(t, d.tx(func(tx pgx.Tx) error {
		authURL, err = d.syncer.StartDexcom(ctx, tx, p.ID, "citizen:a")
		return err
	}))
	back, _ := d.dx.Approve(authURL, "SandboxUser1", false)
	u, _ := url.Parse(back)
	_, err = d.finish(p.ID, "citizen:a", u.Query())
	refused("declined", err, "access_denied")
	if n := d.count(`SELECT count(*) FROM sync_connections`); n != 0 {
		t.Fatalf("%d connections stored by refused callbacks", n)
	}
	// A good one, then the same Dexcom account for another patient.
	if _, err := d.finish(p.ID, "citizen:a", start()); err != nil {
		t.Fatal(err)
	}
	var authURL2 string
	must(t, d.tx(func(tx pgx.Tx) error {
		authURL2, err = d.syncer.StartDexcom(ctx, tx, other.ID, "citizen:b")
		return err
	}))
	back, _ = d.dx.Approve(authURL2, "SandboxUser1", true)
	u, _ = url.Parse(back)
	_, err = d.finish(other.ID, "citizen:b", u.Query())
	if !errors.Is(err, ErrConflict) {
		t.Errorf("the same Dexcom account for another patient = %v, want a conflict", err)
	}
	if n := d.count(`SELECT count(*) FROM sync_authorizations`); n != 0 {
		t.Errorf("%d authorizations left after their callbacks", n)
	}
}

// TestDexcomRateLimit: the application's hourly limit answers 429; the
// connection backs off and the shared Dexcom budget is cut.
func TestDexcomRateLimit(t *testing.T) {
	t.Parallel()
	d := newDexcomEnv(t, 1, dexcomtest.Options{}, nil)
	p, c, err := d.connectDexcom(0, "citizen:test")
	if err != nil {
		t.Fatal(err)
	}
	must(t, d.dx.SetFaults("SandboxUser1", dexcomtest.Faults{RateLimit: true, RetryAfter: 90 * time.Second, On: dexcomtest.EndpointEGVs}))
	if st := d.syncDue(); st.Failed != 1 {
		t.Fatalf("SyncDue = %+v, want one failure", st)
	}
	c = d.conn(p, c.ID)
	wait := c.NextSyncAt.Sub(c.LastSyncAt)
	if c.State != StateBackingOff || wait < 88*time.Second || wait > 92*time.Second {
		t.Errorf("connection = %s, next in %s; want backing off 90 s", c.State, wait)
	}
	st, err := d.syncer.Budgets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range st {
		if b.Name == SourceDexcom && (b.Cuts != 1 || b.BlockedUntil.IsZero()) {
			t.Errorf("Dexcom budget after a 429 = %+v, want one cut and a block", b)
		}
	}
	if n := d.count(`SELECT count(*) FROM readings`); n != 0 {
		t.Errorf("%d readings stored by a failed sync", n)
	}
}
