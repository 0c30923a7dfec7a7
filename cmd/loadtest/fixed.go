package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"
)

// peak is the region's expected peak of read requests, estimated from the
// population and how it reads (the flags -region-patients, -views-per-day,
// -requests-per-view, -peak-hour-share and -clinician-share).
type peak struct {
	patients        int
	viewsPerDay     float64 // a patient's (or a delegate's) views of the taccuino a day
	requestsPerView float64 // read requests of one view (page, latest glucose, glucometrics)
	peakHourShare   float64 // share of a day's views in its busiest hour
	clinicianShare  float64 // clinicians' and record systems' reads, as a share of the patients'
}

// perSecond is the peak's read requests per second.
func (p peak) perSecond() float64 {
	return float64(p.patients) * p.viewsPerDay * p.requestsPerView * p.peakHourShare * (1 + p.clinicianShare) / 3600
}

func (p peak) String() string {
	return fmt.Sprintf("%d patients × %.0f views a day × %.0f read requests a view, %.0f %% of a day's views in the busiest hour, "+
		"clinicians' and record systems' reads +%.0f %%: %.1f req/s", p.patients, p.viewsPerDay, p.requestsPerView,
		100*p.peakHourShare, 100*p.clinicianShare, p.perSecond())
}

// cpuOf is the CPU that the service and PostgreSQL spent per request of a
// step, less their background (what they spend without requests, such as
// the service's jobs and PostgreSQL's checkpointer and autovacuum).
func cpuOf(s step, background float64) (time.Duration, bool) {
	if !s.cpuOK || s.requests == 0 {
		return 0, false
	}
	spent := float64(s.cpu.service+s.cpu.postgres)*float64(s.requests) - background*s.elapsed.Seconds()
	return time.Duration(max(0, spent) / float64(s.requests)), true
}

// measureFixed measures each path at ten times the region's peak, each
// path alone (all of the peak's requests on that path: the harder case):
// its CPU per request (service + PostgreSQL) against /readyz's, and its
// p99 latency. It prints the lines read_path_cpu_vs_readyz_ratio and
// p99_at_10x_peak_ms.
func measureFixed(ctx context.Context, all []path, pr procs, c config, out, log io.Writer) error {
	var paths []path
	for _, p := range all {
		if p.key != "trivial" { // /healthz reaches no database: not the reference here
			paths = append(paths, p)
		}
	}
	for _, p := range paths {
		attack(ctx, p, pr, c.startRate, 2*time.Second) // warm-up: connections, caches
	}
	// The background: CPU spent without requests.
	time.Sleep(time.Second)
	b0, t0 := pr.read(), time.Now()
	time.Sleep(c.idle)
	b1 := pr.read()
	background := float64((b1.service-b0.service)+(b1.postgres-b0.postgres)) / time.Since(t0).Seconds()
	fmt.Fprintf(out, "# background (no requests): service + PostgreSQL %.1f ms of CPU a second, subtracted below\n", background/1e6)

	// Every path at ten times the region's peak, the paths interleaved
	// -cpu-rounds times (the machine is shared: a change of its load
	// weighs alike on all): the CPU per request and the p99 latency of
	// each step. The CPU per request is measured at this rate, the
	// operating point the goal names: at a path's highest rate it is
	// lower, /readyz's most of all (the service's fixed costs per wake-up
	// are shared by more requests; -ramp).
	rate := int(10*c.peak.perSecond() + 0.5)
	fmt.Fprintf(out, "# region's expected peak: %s; 10× = %d req/s, on each path alone, %d steps of %s each, the paths interleaved\n",
		c.peak, rate, c.cpuRounds, c.cpuStep)
	cpu := make([][]time.Duration, len(paths))
	p99 := make([][]time.Duration, len(paths))
	failed := false
	for round := range c.cpuRounds {
		for i, p := range paths {
			time.Sleep(500 * time.Millisecond) // let the previous step drain
			s := attack(ctx, p, pr, rate, c.cpuStep)
			d, ok := cpuOf(s, background)
			if !ok {
				return fmt.Errorf("%s: the CPU of the service and PostgreSQL could not be read (/proc)", p.name)
			}
			if s.success < 1 {
				failed = true
			}
			logf(log, "  round %d %s: %.3f ms of CPU per request (%s)", round+1, p.key, float64(d)/1e6, s)
			cpu[i], p99[i] = append(cpu[i], d), append(p99[i], s.p99)
		}
	}
	readyz := -1
	for i, p := range paths {
		if p.key == "readyz" {
			readyz = i
		}
	}
	if readyz < 0 {
		return fmt.Errorf("the ratio needs /readyz measured (-paths readyz,...)")
	}
	ref := median(cpu[readyz])
	fmt.Fprintf(out, "readyz: CPU per request %.3f ms (service + PostgreSQL, median of %d steps); p99 %.1f ms (median), %.1f ms (worst step)\n",
		float64(ref)/1e6, c.cpuRounds, float64(median(p99[readyz]))/1e6, float64(slices.Max(p99[readyz]))/1e6)
	worst, worstName := 0.0, ""
	worstP99, worstP99Name := time.Duration(0), ""
	for i, p := range paths {
		if p.reference {
			continue
		}
		// The ratio is the median over the rounds of each round's ratio:
		// a path against /readyz measured in the same round, seconds
		// apart, so that a change of the shared machine's load between
		// rounds weighs on both sides of each ratio.
		ratios := make([]float64, len(cpu[i]))
		for r := range cpu[i] {
			ratios[r] = float64(cpu[i][r]) / float64(max(cpu[readyz][r], 1))
		}
		slices.Sort(ratios)
		r := ratios[len(ratios)/2]
		m := median(cpu[i])
		fmt.Fprintf(out, "%s: CPU per request %.3f ms (median); %.2f × readyz (median of the rounds' ratios, from %.2f to %.2f; %.2f × the median readyz); p99 %.1f ms (median), %.1f ms (worst step) — %s\n", p.key,
			float64(m)/1e6, r, ratios[0], ratios[len(ratios)-1], float64(m)/float64(ref), float64(median(p99[i]))/1e6, float64(slices.Max(p99[i]))/1e6, p.name)
		if r > worst {
			worst, worstName = r, p.key
		}
		if w := slices.Max(p99[i]); w > worstP99 {
			worstP99, worstP99Name = w, p.key
		}
	}
	fmt.Fprintf(out, "read_path_cpu_vs_readyz_ratio: %.2f (%s; goal <= 4)\n", worst, worstName)
	fmt.Fprintf(out, "p99_at_10x_peak_ms: %.1f (%s, its worst step; goal < %d)\n", float64(worstP99)/1e6, worstP99Name, c.p99.Milliseconds())
	if failed {
		fmt.Fprintln(out, "# some requests failed: see the log")
	}
	return ctx.Err()
}

// median returns the median of ds (the upper one of an even count).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
