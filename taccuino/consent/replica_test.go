package consent

import (
	"context"
	"errors"
	"testing"
	"time"

	"fsecgm/taccuino/auth"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestAccessOnReplica routes reads with Options.Replica: a pool on the
// same database whose sessions are read-only stands for the hot standby.
// A patient's own glucose read runs there and logs nothing; a parent's,
// a doctor's read, a refusal, any other action, and a read that writes
// run on the primary, logged as without a standby.
func TestAccessOnReplica(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(e.pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	cfg.ConnConfig.RuntimeParams["application_name"] = "standby"
	replica, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(replica.Close)
	s := New(e.pool, Options{Now: e.clock.Now, Replica: replica})

	child := makeCF("FGLRPL", 2014, time.May, 2, false)
	pid := e.patient(cfPatient, time.Date(1980, 3, 10, 0, 0, 0, 0, time.UTC))
	kid := e.patient(child, time.Date(2014, 5, 2, 0, 0, 0, 0, time.UTC))
	e.guardian(GuardianParent, cfParent, child)
	const org = "ORG-REPLICA"
	e.care(CareDiabetology, cfPatient, "", org)
	e.setConsent(pid, cfPatient, true)
	doctor := practitioner(cfDiabetolo, auth.PractitionerDiabetologist, org)

	// where runs a read and says where its fn ran.
	where := func(a Actor, patient int64, act Action, write bool) (string, error) {
		var app string
		err := s.Access(ctx, a, patient, act, "replica test", func(ctx context.Context, tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT current_setting('application_name')`).Scan(&app); err != nil {
				return err
			}
			if write {
				_, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE replica_probe (x int) ON COMMIT DROP`)
				return err
			}
			return nil
		})
		if app != "standby" {
			app = "primary"
		}
		return app, err
	}
	entries := func(patient int64) int {
		n := 0
		for _, r := range e.log(patient) {
			if r.Detail == "replica test" {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		name    string
		actor   Actor
		patient int64
		act     Action
		write   bool
		want    string
		logged  bool
		denied  bool
	}{
		{name: "the patient reads their glucose", actor: citizen(cfPatient), patient: pid, act: ActReadData, want: "standby"},
		{name: "the patient's read that writes", actor: citizen(cfPatient), patient: pid, act: ActReadData, write: true, want: "primary"},
		{name: "the patient reads their consent", actor: citizen(cfPatient), patient: pid, act: ActReadConsent, want: "primary"},
		{name: "a parent reads the child's glucose", actor: citizen(cfParent), patient: kid, act: ActReadData, want: "primary", logged: true},
		{name: "the doctor reads", actor: doctor, patient: pid, act: ActReadData, want: "primary", logged: true},
		{name: "another citizen is refused", actor: citizen(cfParent), patient: pid, act: ActReadData, logged: true, denied: true},
	} {
		before := entries(c.patient)
		got, err := where(c.actor, c.patient, c.act, c.write)
		var de *DeniedError
		if c.denied != errors.As(err, &de) || (!c.denied && err != nil) {
			t.Errorf("%s: err = %v, denied %v", c.name, err, c.denied)
			continue
		}
		if !c.denied && got != c.want {
			t.Errorf("%s: ran on the %s, want the %s", c.name, got, c.want)
		}
		if n := entries(c.patient) - before; n != map[bool]int{true: 1, false: 0}[c.logged] {
			t.Errorf("%s: %d access-log entries, want logged %v", c.name, n, c.logged)
		}
	}
}
