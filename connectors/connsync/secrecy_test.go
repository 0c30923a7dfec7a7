package connsync

import (
	"context"
	"strings"
	"testing"
	"time"

	"fsecgm/connectors/librelinkup"
	"fsecgm/connectors/librelinkup/librelinkuptest"

	"github.com/jackc/pgx/v5"
)

// TestNoSecretInLogsOrAPI runs connections through logins, syncs, faults
// and a follower binding with debug logging on, then checks that no
// password, e-mail, token, fiscal code or name appears in the logs or in
// what the API returns.
func TestNoSecretInLogsOrAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3, 1, nil)
	ctx := context.Background()
	p0, c0 := e.connect(0)
	e.connect(1)
	e.syncDue()
	must(t, e.fake.ExpireTokens(e.accounts[0].Email)) // a relogin
	must(t, e.fake.SetPassword(e.accounts[1].Email, "other"))
	must(t, e.fake.ExpireTokens(e.accounts[1].Email)) // a refused login
	e.clock.Advance(10 * time.Minute)
	e.due()
	e.syncDue()
	follower := e.accounts[3]
	if _, err := e.syncer.AddFollowerAccount(ctx, "Regione Toscana", "", librelinkup.Credentials{Email: follower.Email, Password: follower.Password}); err != nil {
		t.Fatal(err)
	}
	e.syncDue()
	p2 := e.patient(2)
	_ = e.tx(func(tx pgx.Tx) error {
		_, err := e.syncer.Bind(ctx, tx, p2.ID, BindRequest{Serial: printedSerial(e, 2), Actor: "patient test"})
		return err
	})
	_ = e.tx(func(tx pgx.Tx) error {
		_, err := e.syncer.Connect(ctx, tx, p2.ID, ConnectRequest{Email: e.accounts[2].Email, Password: "wrong-password-xyz"})
		return err
	})

	var secrets []string
	for _, a := range e.accounts {
		secrets = append(secrets, a.Email, a.Password, a.FirstName+" "+a.LastName)
	}
	secrets = append(secrets, "wrong-password-xyz", e.fiscalCodeOf(0), e.fiscalCodeOf(1), e.fiscalCodeOf(2))
	// The stored sessions' tokens.
	rows, _ := e.pool.Query(ctx, `SELECT public_id, session_key_id, session_nonce, session_sealed FROM llu_accounts WHERE session_sealed IS NOT NULL`)
	var pid string
	var sl Sealed
	_, err := pgx.ForEachRow(rows, []any{&pid, &sl.KeyID, &sl.Nonce, &sl.Ciphertext}, func() error {
		sess, err := e.syncer.openSession(pid, sl)
		if err != nil {
			return err
		}
		secrets = append(secrets, sess.Token)
		return nil
	})
	if err != nil || len(secrets) < 15 {
		t.Fatalf("sessions: %v", err)
	}

	logs := e.logs.String()
	if !strings.Contains(logs, "connsync: logged in") || !strings.Contains(logs, "sync failed") {
		t.Fatalf("the logs do not cover logins and failures:\n%s", logs)
	}
	var api strings.Builder
	cs, _ := e.syncer.Connections(ctx, e.pool, p0.ID)
	probs, _ := e.syncer.Problems(ctx, e.pool)
	fs, _ := e.syncer.FollowerAccounts(ctx, e.pool)
	ps, _ := e.syncer.PendingConnections(ctx, e.pool)
	for _, v := range []any{cs, probs, fs, ps, c0} {
		api.WriteString(strings.ReplaceAll(sprint(v), "\n", " "))
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the logs contain a secret or personal datum (%d characters)", len(s))
		}
		if strings.Contains(api.String(), s) {
			t.Errorf("the API returns a secret or personal datum (%d characters)", len(s))
		}
	}
	// Nor does the database hold them in clear.
	var dump string
	if err := e.pool.QueryRow(ctx, `SELECT string_agg(t::text, ' ') FROM (
		SELECT a::text AS t FROM llu_accounts a UNION ALL SELECT p::text FROM llu_pending p
		UNION ALL SELECT c::text FROM sync_connections c UNION ALL SELECT b::text FROM llu_bindings b) x`).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(dump, s) {
			t.Errorf("the connection tables hold a secret in clear (%d characters)", len(s))
		}
	}
	_ = librelinkuptest.DefaultGraphLag
}
