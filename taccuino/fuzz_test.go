package taccuino

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"fsecgm/connectors/connsync"
	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/notify"
	"fsecgm/taccuino/web"

	"github.com/labstack/echo/v5"
)

// FuzzAPIBodies decodes hostile bodies into each request type of the JSON
// API and runs the checks that need no database (the ones the handlers run
// right after decoding): no input panics, every refusal is a *web.Error
// with a client status naming a member of the body, and an accepted request
// satisfies what the handlers rely on.
func FuzzAPIBodies(f *testing.F) {
	for _, s := range []string{
		`{"granted":true}`, `{"granted":null}`, `{}`,
		`{"delegate_fiscal_code":"RSSPLA78E20D612O","expires_at":"2026-12-31"}`,
		`{"delegate_fiscal_code":"RSSPLA78E20D612O","expires_at":"2026-12-31T23:00:00+01:00"}`,
		`{"delegate_fiscal_code":"x","expires_at":"31/12/2026"}`,
		`{"privacy_notice_version":"2026-01","mode":"patient","email":"a@b.example","password":"secret"}`,
		`{"privacy_notice_version":"2026-01","mode":"follower","serial":"0M0000XXXX"}`,
		`{"privacy_notice_version":"2025-01","mode":"robot"}`,
		`{"identifier":"http://hl7.it/sid/codiceFiscale|RSSMRA80A01H501U"}`, `{"identifier":"rssmra80a01h501u"}`,
		`{"kind":"mmg","patient_fiscal_code":"RSSMRA80A01H501U","practitioner_fiscal_code":"VRDLCU68H12D612K","valid_from":"2026-01-01T00:00:00Z"}`,
		`{"kind":"parent","patient_fiscal_code":"BNCGLI14D45D612K","guardian_fiscal_code":"BNCNNA85M50D612T","valid_to":"not a time"}`,
		`{"email":"mario.rossi@example.org","mode":"each"}`, `{"email":"M@Example.ORG","mode":"daily","lang":"en"}`,
		`{"mode":"off"}`, `{"email":"a b@c","mode":"hourly"}`,
	} {
		for k := range uint8(6) {
			f.Add([]byte(s), k)
		}
	}
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, kind uint8) {
		req := httptest.NewRequest(http.MethodPost, "/x", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		c := echo.New().NewContext(req, httptest.NewRecorder())
		var check func() error
		switch kind % 6 {
		case 0:
			var r ConsentRequest
			err = web.DecodeJSON(c, &r)
			check = func() error {
				if r.Granted == nil {
					return web.Invalid("/granted", "granted is required")
				}
				return nil
			}
		case 1:
			var r DelegationRequest
			err = web.DecodeJSON(c, &r)
			check = func() error {
				exp, err := parseExpiry(r.ExpiresAt, rome)
				if err == nil && exp.IsZero() {
					t.Fatalf("expiry %q accepted as the zero time", r.ExpiresAt)
				}
				return err
			}
		case 2:
			var r ConnectRequest
			err = web.DecodeJSON(c, &r)
			check = func() error {
				err := checkConnect(r, locale.IT)
				if err == nil {
					ok := r.PrivacyNoticeVersion == PrivacyNoticeVersion &&
						(r.Mode == connsync.ModePatient && r.Email != "" && r.Password != "" ||
							r.Mode == connsync.ModeFollower && r.Serial != "")
					if !ok {
						t.Fatalf("checkConnect accepted %+v", r)
					}
				}
				return err
			}
		case 3:
			var r PatientRequest
			err = web.DecodeJSON(c, &r)
			check = func() error {
				cf, ok := parseIdentifier(r.Identifier)
				if !ok {
					return web.Invalid("/identifier", "identifier must be a codice fiscale")
				}
				if len(cf) != 16 {
					t.Fatalf("parseIdentifier(%q) accepted %q", r.Identifier, cf)
				}
				return nil
			}
		case 4:
			var r CareRelationshipJSON
			err = web.DecodeJSON(c, &r)
			check = func() error { return nil }
		case 5:
			var r NotificationsRequest
			err = web.DecodeJSON(c, &r)
			check = func() error {
				m, err := notify.ParseMode(r.Mode)
				if err != nil {
					return web.Invalid("/mode", err.Error())
				}
				if m == notify.ModeOff {
					return nil
				}
				e, err := notify.NormalizeEmail(r.Email)
				if err != nil {
					return web.Invalid("/email", err.Error())
				}
				if len(e) > 254 || strings.Count(e, "@") != 1 || strings.ContainsAny(e, " <>\r\n") || notify.MaskEmail(e) == e {
					t.Fatalf("NormalizeEmail(%q) accepted %q", r.Email, e)
				}
				return nil
			}
		}
		if err == nil {
			err = check()
		}
		if err == nil {
			return
		}
		var e *web.Error
		if !errors.As(err, &e) {
			t.Fatalf("refusal is %T: %v", err, err)
		}
		switch e.Status {
		case 400, 413, 415, 422:
		default:
			t.Fatalf("refusal status %d: %v", e.Status, err)
		}
		if e.Status == 422 && e.Field != "" && e.Field[0] != '/' {
			t.Fatalf("422 field %q is not a JSON pointer", e.Field)
		}
	})
}

// FuzzParsePeriod checks the from/to query parameters of the glucometrics,
// daily profiles and readings: no input panics, a refusal is a 422 naming
// from or to, and an accepted period is ordered, within bounds and at
// most maxDays long.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range [][2]string{{"", ""}, {"2026-01-01", "2026-01-14"}, {"2026-01-14", "2026-01-01"}, {"", "2026-03-29"},
		{"2026-10-25", ""}, {"1999-12-31", ""}, {"2026-02-30", ""}, {"0001-01-01", "9999-12-31"}, {"2026-1-1", "x"}} {
		f.Add(s[0], s[1], uint16(14))
	}
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, from, to string, maxDays uint16) {
		limit := int(maxDays%400) + 1
		p, err := parsePeriod(from, to, now, rome, limit)
		if err != nil {
			var e *web.Error
			if !errors.As(err, &e) || e.Status != 422 || (e.Field != "from" && e.Field != "to") {
				t.Fatalf("refusal %v", err)
			}
			return
		}
		if p.To.Before(p.From) || p.days() > limit || p.From.Year() < 2000 || p.To.Year() > 2027 {
			t.Fatalf("accepted %s for from=%q to=%q max %d", p, from, to, limit)
		}
		if !p.Period.End.After(p.Period.Start) {
			t.Fatalf("empty AGP period for %s", p)
		}
	})
}
