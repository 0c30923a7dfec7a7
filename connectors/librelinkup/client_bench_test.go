package librelinkup_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"fsecgm/connectors/librelinkup"
	"fsecgm/connectors/librelinkup/librelinkuptest"
)

// BenchmarkClientGraph is one sync poll of a connection over loopback HTTP:
// the client's request, the fake's 12 h of Libre 3 points, the client's
// decoding and translation. The baseline, measured in the same run, is a
// bare GET of a body of the same size from a static handler over the same
// kind of keep-alive connection.
func BenchmarkClientGraph(b *testing.B) {
	fake := librelinkuptest.New(librelinkuptest.Options{})
	url := fake.Start()
	defer fake.Close()
	accounts, err := fake.Populate(1, 1, 0, "eu")
	if err != nil {
		b.Fatal(err)
	}
	c, err := librelinkup.New(librelinkup.Config{BaseURL: url, Region: "eu"})
	if err != nil {
		b.Fatal(err)
	}
	a := &librelinkup.Account{Credentials: librelinkup.Credentials{Email: accounts[0].Email, Password: accounts[0].Password}}
	ctx := context.Background()
	if _, err := c.Graph(ctx, a, accounts[0].Follows[0]); err != nil {
		b.Fatal(err)
	}

	body := make([]byte, 45000)
	static := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
	defer static.Close()
	hc := librelinkup.NewHTTPClient(10 * time.Second)
	base := nsPerOpClient(func() {
		resp, err := hc.Get(static.URL)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	})

	for b.Loop() {
		if _, err := c.Graph(ctx, a, accounts[0].Follows[0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/base, "x-bare-GET")
}

func nsPerOpClient(fn func()) float64 {
	fn()
	n, start := 0, time.Now()
	for time.Since(start) < 50*time.Millisecond {
		fn()
		n++
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}
