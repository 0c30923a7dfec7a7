package consent_test

import (
	"context"
	"errors"
	"fmt"

	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A handler reads a patient's data through Store.Access: the read and its
// access-log entry commit together, and the data is served only when Access
// returns nil. (Compiled, not run: it needs a database.)
func ExampleStore_Access() {
	var pool *pgxpool.Pool // the service's pool
	store := consent.New(pool, consent.Options{})
	ctx := context.Background()

	principal := &auth.Principal{Role: auth.RolePractitioner, FiscalCode: "RSSMRA85T10A562S",
		PractitionerRole: auth.PractitionerDiabetologist, Organization: "090-DIAB-FI"}
	actor := consent.ActorFrom(principal, "req-7f3a")
	var patientID int64 = 42 // resolved from the public id by cgmstore

	var count int
	err := store.Access(ctx, actor, patientID, consent.ActReadData, "readings 2026-05-01..2026-05-14",
		func(ctx context.Context, tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FROM readings WHERE patient_id = $1`, patientID).Scan(&count)
		})
	var denied *consent.DeniedError
	switch {
	case errors.As(err, &denied):
		fmt.Println("403:", denied.Reason) // the denial is already in the patient's log
	case errors.Is(err, consent.ErrNotFound):
		fmt.Println("404")
	case err != nil:
		fmt.Println("500")
	default:
		fmt.Println("200:", count)
	}
}

// A caller whose token failed verification is still recorded in the
// patient's access log when the URL names a patient.
func ExampleStore_LogDenied() {
	var store *consent.Store
	var patientID int64 = 42
	err := store.LogDenied(context.Background(), patientID, consent.ActReadData, "GET readings: expired token",
		consent.Actor{RequestID: "req-81c0", Client: "192.0.2.10"})
	if err != nil {
		fmt.Println("could not log:", err)
	}
}

// The clinic view lists the patients a practitioner may read now.
func ExampleStore_VisiblePatients() {
	var store *consent.Store
	actor := consent.ActorFrom(&auth.Principal{Role: auth.RolePractitioner, FiscalCode: "RSSMRA85T10A562S",
		PractitionerRole: auth.PractitionerMMG}, "req-1")
	ids, err := store.VisiblePatients(context.Background(), actor)
	fmt.Println(len(ids), err)
}
