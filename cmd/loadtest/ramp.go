package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"fsecgm/cmd/internal/runsvc"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// path is a read path under load.
type path struct {
	key, name string
	// reference marks a path measured for comparison only, not a read path
	// of the ratio.
	reference bool
	// target fills the n-th request.
	target func(n uint64, t *vegeta.Target)
	// probe says why the path cannot be measured ("" when it can).
	probe func(ctx context.Context) string
}

// paths returns the paths to measure against the service at base.
func (d *data) paths(base string) []path {
	bearer := func(tok string) http.Header {
		h := http.Header{}
		h.Set("Authorization", "Bearer "+tok)
		return h
	}
	clinician, service := bearer(d.clinician), bearer(d.service)
	probe := func(method, url string, h http.Header) func(context.Context) string {
		return func(ctx context.Context) string {
			req, _ := http.NewRequestWithContext(ctx, method, url, nil)
			req.Header = h
			res, err := runsvc.Client(30 * time.Second).Do(req)
			if err != nil {
				return err.Error()
			}
			b, _ := io.ReadAll(io.LimitReader(res.Body, 300))
			res.Body.Close()
			switch {
			case res.StatusCode == http.StatusNotFound && strings.Contains(string(b), "no such resource"):
				return "the service does not serve " + strings.TrimPrefix(url, base) + " (route not registered in this build)"
			case res.StatusCode != http.StatusOK:
				return fmt.Sprintf("%s answers %d: %s", strings.TrimPrefix(url, base), res.StatusCode, b)
			}
			return ""
		}
	}
	n := uint64(len(d.publicIDs))
	patient := func(i uint64) string { return d.publicIDs[i%n] }
	return []path{
		{key: "trivial", name: "trivial GET /healthz",
			target: func(_ uint64, t *vegeta.Target) { t.Method, t.URL = "GET", base+"/healthz" },
			probe:  probe("GET", base+"/healthz", nil)},
		{key: "readyz", name: "readiness GET /readyz (reference: a ping and one query, no token, no transaction, no access log)",
			reference: true,
			target:    func(_ uint64, t *vegeta.Target) { t.Method, t.URL = "GET", base+"/readyz" },
			probe:     probe("GET", base+"/readyz", nil)},
		{key: "latest", name: "patient latest glucose (GET /api/v1/patients/{id}/glucose/latest, the diabetologist)",
			target: func(i uint64, t *vegeta.Target) {
				t.Method, t.URL, t.Header = "GET", base+"/api/v1/patients/"+patient(i*7919)+"/glucose/latest", clinician
			},
			probe: probe("GET", base+"/api/v1/patients/"+patient(0)+"/glucose/latest", clinician)},
		{key: "glucometrics", name: "patient glucometrics, 14 days (GET /api/v1/patients/{id}/glucometrics, the diabetologist)",
			target: func(i uint64, t *vegeta.Target) {
				t.Method, t.URL, t.Header = "GET", base+"/api/v1/patients/"+patient(i*7919)+"/glucometrics", clinician
			},
			probe: probe("GET", base+"/api/v1/patients/"+patient(0)+"/glucometrics", clinician)},
		{key: "fhir", name: "FHIR Observation search (GET /fhir/Observation?patient=..., the record system)",
			target: func(i uint64, t *vegeta.Target) {
				t.Method, t.URL, t.Header = "GET", base+"/fhir/Observation?patient=Patient/"+patient(i*7919), service
			},
			probe: probe("GET", base+"/fhir/Observation?patient=Patient/"+patient(0), service)},
		{key: "clinic", name: "clinic view, pages 1 to 20 by their cursors (GET /api/v1/clinic?after=...)",
			target: func(i uint64, t *vegeta.Target) {
				u := base + "/api/v1/clinic"
				if len(d.clinicPages) > 0 {
					u = base + d.clinicPages[i%uint64(len(d.clinicPages))]
				}
				t.Method, t.URL, t.Header = "GET", u, clinician
			},
			probe: probe("GET", base+"/api/v1/clinic", clinician)},
	}
}

// step is one rate step's outcome.
type step struct {
	rate       int
	p99        time.Duration
	success    float64
	throughput float64
	codes      map[string]int
	errors     []string
	// cpu is what each side spent per request (cpuOK false when it could
	// not be read).
	cpu   perRequest
	cpuOK bool
	// requests is the number of requests sent, and elapsed the time from
	// the first CPU reading to the last.
	requests uint64
	elapsed  time.Duration
}

// holds reports whether the step held at bound.
func (s step) holds(bound time.Duration) bool {
	return s.success == 1 && len(s.errors) == 0 && s.p99 < bound && s.throughput >= 0.95*float64(s.rate)
}

func (s step) String() string {
	out := fmt.Sprintf("%d/s: p99 %s, success %.2f%%, throughput %.0f/s, codes %v", s.rate,
		s.p99.Round(100*time.Microsecond), 100*s.success, s.throughput, s.codes)
	if s.cpuOK {
		out += "; " + s.cpu.String()
	}
	return out
}

// result is a path's ramp.
type result struct {
	held  float64
	at    step // the highest step held
	first step // the first step not held
	steps int
}

func (r result) String() string {
	if r.held == 0 {
		return fmt.Sprintf("no rate held (first step %s)", r.first)
	}
	s := fmt.Sprintf("%.0f req/s held (p99 %s)", r.held, r.at.p99.Round(100*time.Microsecond))
	if r.at.cpuOK {
		s += fmt.Sprintf(" [at that rate, %s]", r.at.cpu)
	}
	if r.first.rate > 0 {
		s += fmt.Sprintf("; %d req/s not (%s)", r.first.rate, r.first)
	}
	return s
}

// attack runs one step at rate, charging the CPU that pr's processes
// spend meanwhile to its requests.
func attack(ctx context.Context, p path, pr procs, rate int, d time.Duration) step {
	before, t0 := pr.read(), time.Now()
	var n atomic.Uint64
	targeter := func(t *vegeta.Target) error {
		p.target(n.Add(1)-1, t)
		return nil
	}
	a := vegeta.NewAttacker(vegeta.Timeout(5*time.Second), vegeta.KeepAlive(true), vegeta.Connections(1000),
		vegeta.MaxConnections(1000), vegeta.HTTP2(false))
	var m vegeta.Metrics
	results := a.Attack(targeter, vegeta.Rate{Freq: rate, Per: time.Second}, d, p.key)
	done := func() step {
		m.Close()
		s := step{rate: rate, p99: m.Latencies.P99, success: m.Success, throughput: m.Throughput, codes: m.StatusCodes, errors: m.Errors}
		s.cpu, s.cpuOK = per(before, pr.read(), m.Requests)
		s.requests, s.elapsed = m.Requests, time.Since(t0)
		return s
	}
	for {
		select {
		case <-ctx.Done():
			a.Stop()
		case r, ok := <-results:
			if !ok {
				return done()
			}
			m.Add(r)
			continue
		}
		for r := range results {
			m.Add(r)
		}
		return done()
	}
}

// ramper is one path's ramp: the rate doubles from the start rate while
// steps hold, then bisects refine times between the last rate held and
// the first that was not.
type ramper struct {
	p          path
	res        result
	rate       int
	lo, hi     int
	bisecting  bool
	refineLeft int
	done       bool
}

func newRamper(p path, c config) *ramper {
	return &ramper{p: p, rate: c.startRate, refineLeft: c.refine}
}

// record takes the outcome of the step at r.rate and picks the next rate.
func (r *ramper) record(s step, c config) {
	r.res.steps++
	ok := s.holds(c.p99)
	if ok && float64(s.rate) > r.res.held {
		r.res.held, r.res.at = float64(s.rate), s
	}
	if !ok && (r.res.first.rate == 0 || s.rate < r.res.first.rate) {
		r.res.first = s
	}
	if !r.bisecting {
		if ok {
			if r.rate*2 > c.maxRate {
				r.done = true
				return
			}
			r.rate *= 2
			return
		}
		if r.res.held == 0 {
			r.done = true
			return
		}
		r.bisecting, r.lo, r.hi = true, int(r.res.held), s.rate
	} else {
		if ok {
			r.lo = s.rate
		} else {
			r.hi = s.rate
		}
		r.refineLeft--
	}
	if r.refineLeft <= 0 || r.hi-r.lo < max(2, r.lo/20) {
		r.done = true
		return
	}
	r.rate = (r.lo + r.hi) / 2
}

// rampAll ramps every path, interleaved: each round gives every path
// still ramping one step, so that a change of the machine's load (it is
// shared) weighs alike on all of them, the trivial endpoint included.
func rampAll(ctx context.Context, paths []path, pr procs, c config, log io.Writer) []result {
	rs := make([]*ramper, len(paths))
	for i, p := range paths {
		rs[i] = newRamper(p, c)
		attack(ctx, p, pr, c.startRate, 2*time.Second) // warm-up: connections, caches
	}
	for ctx.Err() == nil {
		active := 0
		for _, r := range rs {
			if r.done {
				continue
			}
			active++
			time.Sleep(time.Second) // let the previous step drain
			s := attack(ctx, r.p, pr, r.rate, c.step)
			word := "holds"
			if !s.holds(c.p99) {
				word = "does not hold"
			}
			logf(log, "  %s: %s %s", r.p.key, s, word)
			r.record(s, c)
		}
		if active == 0 {
			break
		}
	}
	out := make([]result, len(rs))
	for i, r := range rs {
		out[i] = r.res
	}
	return out
}
