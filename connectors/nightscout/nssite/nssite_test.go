package nssite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/connectors/glucosim"
	"fsecgm/connectors/nightscout/nssite"
	"fsecgm/connectors/nightscout/nssite/nssitetest"

	"github.com/google/go-cmp/cmp"
)

func TestNormalizeURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://Example.herokuapp.com/":           "https://example.herokuapp.com",
		"https://ns.example.org/path/api/v1/":      "https://ns.example.org/path",
		" https://ns.example.org:8443/a ":          "https://ns.example.org:8443/a",
		"http://127.0.0.1:9999/site/x":             "http://127.0.0.1:9999/site/x",
		"http://ns.example.org":                    "",
		"https://secret@ns.example.org":            "",
		"https://ns.example.org/?token=abc":        "",
		"ftp://ns.example.org":                     "",
		"ns.example.org":                           "",
		"https://ns.example.org/api/v1/entries.js": "https://ns.example.org/api/v1/entries.js",
	} {
		got, err := nssite.NormalizeURL(in)
		if want == "" {
			if err == nil {
				t.Errorf("NormalizeURL(%q) = %q, want an error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("NormalizeURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if got := nssite.HashSecret("a very secret phrase"); len(got) != 40 {
		t.Errorf("HashSecret = %q, want 40 hex digits (SHA-1)", got)
	}
}

func TestEntries(t *testing.T) {
	t.Parallel()
	now := time.Now()
	fake := nssitetest.New(nil)
	rome, _ := cgm.Zone("Europe/Rome")
	sim := glucosim.New(5, glucosim.Libre3, rome)
	path, err := fake.AddSite(nssitetest.Site{Name: "anna", APISecret: "a-secret-of-twelve", Tokens: []string{"fsecgm-0123456789abcdef"}, Sim: sim})
	if err != nil {
		t.Fatal(err)
	}
	base := fake.Start() + path
	defer fake.Close()
	since := now.Add(-7 * time.Hour)
	want := sim.Historic(since.Add(time.Millisecond), now)
	format := func(rs []cgm.Reading) []string {
		var out []string
		for _, r := range rs {
			out = append(out, fmt.Sprintf("%d %g", r.Time.UnixMilli(), r.Value))
		}
		return out
	}
	var wantS []string
	for _, p := range want {
		v := float64(p.MgDL)
		if p.Flags&cgm.FlagLow != 0 {
			v = 40
		}
		wantS = append(wantS, fmt.Sprintf("%d %g", p.Time.UnixMilli(), v))
	}
	// A small page size makes the client page (7 hours of 5-minute
	// values, 84, in pages of 20).
	c := nssite.NewClient(nssite.ClientConfig{PageSize: 20})
	ctx := context.Background()
	for _, site := range []nssite.Site{
		{URL: base, APISecret: "a-secret-of-twelve"},
		{URL: base + "/api/v1/", Token: "fsecgm-0123456789abcdef"},
		{URL: base, Token: "fsecgm-0123456789abcdef", API: nssite.APIv3},
	} {
		f, partial, err := c.Entries(ctx, site, since)
		if err != nil || partial {
			t.Fatalf("Entries(%s) = %v, partial %v", site.Key(), err, partial)
		}
		got := f.Readings
		sortByTime(got)
		if diff := cmp.Diff(wantS, format(got)); diff != "" {
			t.Errorf("entries through API %q, secret %v (-want +got):\n%s", site.API, site.APISecret != "", diff)
		}
	}
	st, err := c.Status(ctx, nssite.Site{URL: base})
	if err != nil || st.Version == "" {
		t.Errorf("Status = %+v, %v", st, err)
	}
	for _, tt := range []struct {
		site nssite.Site
		kind nssite.ErrorKind
	}{
		{nssite.Site{URL: base, APISecret: "wrong-secret-xxxx"}, nssite.KindUnauthorized},
		{nssite.Site{URL: base}, nssite.KindUnauthorized},
		{nssite.Site{URL: base, Token: "bad", API: nssite.APIv3}, nssite.KindUnauthorized},
		{nssite.Site{URL: base + "x", APISecret: "a-secret-of-twelve"}, nssite.KindNotFound},
	} {
		if _, _, err := c.Entries(ctx, tt.site, since); nssite.KindOfError(err) != tt.kind {
			t.Errorf("Entries(%+v) = %v, want %v", tt.site.Key(), err, tt.kind)
		}
	}
	for _, tt := range []struct {
		f    nssitetest.Faults
		kind nssite.ErrorKind
	}{
		{nssitetest.Faults{HTMLPage: true}, nssite.KindHTMLPage},
		{nssitetest.Faults{ServerError: 503}, nssite.KindServerError},
		{nssitetest.Faults{RateLimit: true, RetryAfter: time.Minute}, nssite.KindRateLimited},
		{nssitetest.Faults{TruncatedJSON: true}, nssite.KindMalformedJSON},
	} {
		if err := fake.SetFaults("anna", tt.f); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Entries(ctx, nssite.Site{URL: base, APISecret: "a-secret-of-twelve"}, since); nssite.KindOfError(err) != tt.kind {
			t.Errorf("fault %+v: %v, want %v", tt.f, err, tt.kind)
		}
	}
}

func sortByTime(rs []cgm.Reading) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].Time.Before(rs[j-1].Time); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}
