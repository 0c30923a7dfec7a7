package notify

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"fsecgm/cgm/codicefiscale"
	"fsecgm/internal/testenv"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"

	"github.com/jackc/pgx/v5"
)

// BenchmarkAccessNotified measures what the notification queue costs the
// read path. The trigger on access_log adds, in the read's transaction,
// one statement-level function call and a join on notification_settings
// and, for a patient whose notifications are on, one row in
// notification_events. The same diabetologist's reads (consent.Access:
// facts, decision, log entry, commit) and clinic-list pages of 50
// patients (consent.AccessListed) are timed with the trigger disabled
// (the baseline, as before migration 00060), enabled for patients without
// an address, and enabled for patients whose notifications are on, in
// interleaved rounds on the same database; it reports the medians' ratios
// to the baseline.
func BenchmarkAccessNotified(b *testing.B) {
	ctx := context.Background()
	te := testenv.New(b, testenv.WithLogger(slog.New(slog.DiscardHandler)))
	pool, cs, store := te.Pool, te.Consent, te.Store
	const n = 100 // patients: the first half notified
	ids := make([]int64, n)
	for i := range n {
		cf := codicefiscale.Complete(fmt.Sprintf("BNCMRA80A01H%03d", i))
		p, _, err := store.EnsurePatient(ctx, cf, "Europe/Rome")
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = p.ID
		if _, err := cs.UpsertCareRelationship(ctx, registry, consent.CareRelationship{PatientFiscalCode: cf,
			Kind: consent.CareDiabetology, OrganizationID: "ORG"}); err != nil {
			b.Fatal(err)
		}
		self := consent.Actor{Role: auth.RoleCitizen, FiscalCode: cf, RequestID: "bench"}
		if _, err := cs.SetThirdPartyConsent(ctx, self, p.ID, true); err != nil {
			b.Fatal(err)
		}
		if i < n/2 {
			if _, err := pool.Exec(ctx, `INSERT INTO notification_settings (patient_id, email, mode, confirmed_at, changed_at)
				VALUES ($1, 'p@example.org', 'each', now(), now())`, p.ID); err != nil {
				b.Fatal(err)
			}
		}
	}
	a := consent.Actor{Role: auth.RolePractitioner, FiscalCode: cfDiab, PractitionerRole: auth.PractitionerDiabetologist,
		Organization: "ORG", Name: "Sara Neri", RequestID: "bench"}
	trigger := func(on bool) {
		verb := "DISABLE"
		if on {
			verb = "ENABLE"
		}
		if _, err := pool.Exec(ctx, `ALTER TABLE access_log `+verb+` TRIGGER access_log_notify`); err != nil {
			b.Fatal(err)
		}
	}
	read := func(i int, notified bool) {
		pid := ids[n/2+i%(n/2)]
		if notified {
			pid = ids[i%(n/2)]
		}
		if err := cs.Access(ctx, a, pid, consent.ActReadData, "latest glucose", nil); err != nil {
			b.Fatal(err)
		}
	}
	page := func(notified bool) {
		list := ids[n/2:]
		if notified {
			list = ids[:n/2]
		}
		if err := cs.AccessListed(ctx, a, list, "clinic list", func(context.Context, pgx.Tx, []int64) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	const per = 50
	kinds := []struct {
		name     string
		trigger  bool
		notified bool
	}{{"off", false, false}, {"no_address", true, false}, {"notified", true, true}}
	reads := make([][]time.Duration, len(kinds))
	pages := make([][]time.Duration, len(kinds))
	b.ResetTimer()
	for b.Loop() {
		for k, kind := range kinds {
			trigger(kind.trigger)
			for i := range per {
				t0 := time.Now()
				read(i, kind.notified)
				reads[k] = append(reads[k], time.Since(t0))
			}
			for range per / 10 {
				t0 := time.Now()
				page(kind.notified)
				pages[k] = append(pages[k], time.Since(t0))
			}
		}
		if _, err := pool.Exec(ctx, `DELETE FROM notification_events`); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	trigger(true)
	median := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2])
	}
	b.ReportMetric(median(reads[0])/1e3, "read_off_us")
	b.ReportMetric(median(reads[1])/median(reads[0]), "read_no_address_ratio")
	b.ReportMetric(median(reads[2])/median(reads[0]), "read_notified_ratio")
	b.ReportMetric(median(pages[0])/1e3, "page50_off_us")
	b.ReportMetric(median(pages[1])/median(pages[0]), "page50_no_address_ratio")
	b.ReportMetric(median(pages[2])/median(pages[0]), "page50_notified_ratio")
}
