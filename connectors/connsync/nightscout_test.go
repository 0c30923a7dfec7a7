package connsync

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/connectors/glucosim"
	"fsecgm/connectors/nightscout/nssite"
	"fsecgm/connectors/nightscout/nssite/nssitetest"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// nsEnv is a testEnv whose Syncer also reads fake Nightscout sites.
type nsEnv struct {
	*testEnv
	ns   *nssitetest.Server
	base string
	sims map[string]*glucosim.Patient
}

func newNSEnv(t *testing.T, patients int) *nsEnv {
	t.Helper()
	n := &nsEnv{ns: nssitetest.New(nil), sims: map[string]*glucosim.Patient{}}
	n.base = n.ns.Start()
	t.Cleanup(n.ns.Close)
	n.testEnv = newEnv(t, patients, 0, func(c *Config) {
		c.Nightscout = &NightscoutConfig{Client: nssite.ClientConfig{HTTPClient: nssite.NewHTTPClient(5 * time.Second), PageSize: 500},
			Interval: time.Minute, Backfill: 24 * time.Hour}
	})
	return n
}

// site adds a fake site and returns its URL.
func (n *nsEnv) site(name string, sp nssitetest.Site) string {
	n.t.Helper()
	rome, _ := cgm.Zone("Europe/Rome")
	sp.Name = name
	sp.Sim = glucosim.New(uint64(len(n.sims)+40), glucosim.Libre3, rome)
	n.sims[name] = sp.Sim
	path, err := n.ns.AddSite(sp)
	if err != nil {
		n.t.Fatal(err)
	}
	return n.base + path
}

func (n *nsEnv) connectNS(patientID int64, req NightscoutRequest) (Connection, error) {
	var c Connection
	err := n.tx(func(tx pgx.Tx) error {
		var err error
		c, err = n.syncer.ConnectNightscout(context.Background(), tx, patientID, req)
		return err
	})
	return c, err
}

// TestNightscoutPull: a patient connects their Nightscout site with its
// API secret (API v1) or an access token (API v3); the syncs store its
// entries (the first day back, then what is new); a wrong secret is
// refused at connect time and stores nothing; a secret changed on the site
// stops the connection without further requests; a site answering a web
// page is retried; one site serves one live connection.
func TestNightscoutPull(t *testing.T) {
	t.Parallel()
	n := newNSEnv(t, 3)
	ctx := context.Background()
	url1 := n.site("anna", nssitetest.Site{APISecret: "anna-secret-phrase"})
	url2 := n.site("bruno", nssitetest.Site{Tokens: []string{"fsecgm-0123456789abcdef"}})
	p0, p1, p2 := n.patient(0), n.patient(1), n.patient(2)

	var ue *UserError
	if _, err := n.connectNS(p0.ID, NightscoutRequest{URL: url1, APISecret: "wrong-secret-phrase"}); !errors.As(err, &ue) || ue.Code != "bad_credentials" {
		t.Fatalf("wrong secret = %v, want bad_credentials", err)
	}
	if _, err := n.connectNS(p0.ID, NightscoutRequest{URL: n.base + "/site/nobody", APISecret: "anna-secret-phrase"}); !errors.As(err, &ue) || ue.Code != "not_nightscout" {
		t.Fatalf("no site = %v, want not_nightscout", err)
	}
	if _, err := n.connectNS(p0.ID, NightscoutRequest{URL: "https://anna-secret-phrase@" + url1[len("http://"):]}); !errors.As(err, &ue) || ue.Code != "url_invalid" {
		t.Fatalf("secret in the URL = %v, want url_invalid", err)
	}
	if k := n.count(`SELECT count(*) FROM sync_connections`) + n.count(`SELECT count(*) FROM readings`); k != 0 {
		t.Fatalf("refused connects stored %d rows", k)
	}
	c0, err := n.connectNS(p0.ID, NightscoutRequest{URL: url1 + "/api/v1/", APISecret: "anna-secret-phrase"})
	if err != nil || c0.Source != SourceNightscout || c0.Label != "127.0.0.1:"+url1[len("http://127.0.0.1:"):len(url1)-len("/site/anna")] {
		t.Fatalf("connect = %+v, %v", c0, err)
	}
	c1, err := n.connectNS(p1.ID, NightscoutRequest{URL: url2, Token: "fsecgm-0123456789abcdef", API: "v3"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.connectNS(p2.ID, NightscoutRequest{URL: url1, APISecret: "anna-secret-phrase"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("the same site for another patient = %v, want a conflict", err)
	}
	start := time.Now()
	if st := n.syncDue(); st.Synced != 2 || st.Failed != 0 {
		t.Fatalf("SyncDue = %+v", st)
	}
	for _, tc := range []struct {
		p    int64
		site string
	}{{p0.ID, "anna"}, {p1.ID, "bruno"}} {
		got, err := n.store.Readings(ctx, tc.p, start.Add(-2*24*time.Hour), time.Now().Add(time.Hour), cgm.Historic)
		if err != nil || len(got) == 0 {
			t.Fatalf("%s: %d readings, %v", tc.site, len(got), err)
		}
		var want, have []string
		for _, pt := range n.sims[tc.site].Historic(got[0].Time, got[len(got)-1].Time.Add(time.Millisecond)) {
			want = append(want, fmt.Sprint(pt.Time.UnixMilli(), " ", max(pt.MgDL, 40)))
		}
		for _, r := range got {
			have = append(have, fmt.Sprint(r.Time.UnixMilli(), " ", r.Value))
		}
		if diff := cmp.Diff(want, have); diff != "" || got[0].Time.Sub(start.Add(-24*time.Hour)).Abs() > 6*time.Minute {
			t.Errorf("%s: stored readings from %s (-want +got):\n%s", tc.site, got[0].Time, diff)
		}
	}
	// A web page instead of JSON: retried at the next slot.
	must(t, n.ns.SetFaults("bruno", nssitetest.Faults{HTMLPage: true}))
	n.due()
	n.syncDue()
	if c := n.conn(p1, c1.ID); c.State != StateError || c.Problem == nil || c.Problem.Kind != "HTML page instead of JSON" {
		t.Errorf("connection of a site answering a page = %+v", c)
	}
	// The owner changes the API secret: the connection stops.
	must(t, n.ns.SetSecret("anna", "a-new-secret-phrase"))
	n.due()
	n.syncDue()
	c0 = n.conn(p0, c0.ID)
	if c0.State != StateBadCredentials || c0.Problem == nil {
		t.Fatalf("connection after the secret changed = %+v", c0)
	}
	before := n.ns.Stats("anna")
	n.due()
	n.syncDue()
	if after := n.ns.Stats("anna"); after.Requests != before.Requests {
		t.Errorf("requests after the secret was refused: %d, want %d", after.Requests, before.Requests)
	}
}
