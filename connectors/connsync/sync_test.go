package connsync

import (
	"context"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm"

	"github.com/google/go-cmp/cmp"
)

func TestConnectAndSync(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2, 0, nil)
	p, c := e.connect(0)
	if c.State != StateActive || c.Mode != ModePatient || c.Problem != nil {
		t.Fatalf("after Connect: %+v", c)
	}
	first := e.clock.Now()
	st := e.syncDue()
	if st.Synced != 1 || st.Failed != 0 || st.Inserted == 0 {
		t.Fatalf("first SyncDue = %+v, want one sync inserting readings", st)
	}
	c = e.conn(p, c.ID)
	if c.State != StateActive || c.LastSuccessAt.IsZero() || c.NewestReadingAt.IsZero() || c.Syncs != 1 {
		t.Fatalf("after sync: %+v", c)
	}
	if got := e.fake.Stats(e.accounts[0].Email); got.SuccessfulLogins != 1 || got.Graphs != 1 || got.Logbooks != 1 {
		t.Fatalf("fake stats = %+v, want 1 login (at connect), 1 graph, 1 logbook", got)
	}
	// Nothing is due until the next slot.
	if st := e.syncDue(); st.Synced != 0 {
		t.Fatalf("second SyncDue = %+v, want nothing due", st)
	}
	// Two hours later (fake clock), the next sync adds the new points.
	e.clock.Advance(2 * time.Hour)
	e.due()
	if st := e.syncDue(); st.Synced != 1 || st.Inserted == 0 {
		t.Fatalf("third SyncDue = %+v", st)
	}
	last := e.clock.Now()
	if diff := cmp.Diff(wantHistoric(e.sim(0), first, last), gotHistoric(e.historic(p))); diff != "" {
		t.Errorf("historic readings differ from the simulator's (-want +got):\n%s", diff)
	}
	if got := e.fake.Stats(e.accounts[0].Email); got.SuccessfulLogins != 1 || got.Logbooks != 1 {
		t.Errorf("fake stats = %+v, want no new login and the logbook only once a day", got)
	}
	// Scans from the logbook and current values are stored too.
	scans, err := e.store.Readings(context.Background(), p.ID, time.Unix(0, 0), time.Now().Add(time.Hour), cgm.Scan)
	if err != nil || len(scans) == 0 {
		t.Errorf("scans: %d, %v; want the logbook's", len(scans), err)
	}
	if n := e.count(`SELECT count(*) FROM sync_runs WHERE outcome = 'ok'`); n != 2 {
		t.Errorf("sync runs = %d, want 2", n)
	}
	if n := e.count(`SELECT count(*) FROM patient_metrics_dirty WHERE patient_id = $1`, p.ID); n != 1 {
		t.Errorf("metrics dirty marks = %d, want 1", n)
	}
	devs, err := e.store.Devices(context.Background(), p.ID)
	if err != nil || len(devs) == 0 || !strings.HasPrefix(devs[len(devs)-1].Model, "FreeStyle Libre") {
		t.Errorf("devices = %+v, %v", devs, err)
	}
}
