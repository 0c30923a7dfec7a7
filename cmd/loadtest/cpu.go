package main

import (
	"strconv"
	"time"

	"fsecgm/cmd/internal/proccpu"
)

// procs names the processes whose CPU time a step is charged with: the
// service, PostgreSQL (the postmaster and its backends) and this process,
// the load generator. It reads Linux's /proc; elsewhere it reports nothing.
type procs struct {
	service    int
	postmaster int
}

// cpuTimes is the CPU time (user + system) used so far by each side.
type cpuTimes struct {
	service, postgres, generator time.Duration
	ok                           bool
}

// newProcs finds PostgreSQL's postmaster from dataDir/postmaster.pid.
func newProcs(service int, dataDir string) procs {
	return procs{service: service, postmaster: proccpu.Postmaster(dataDir)}
}

// read returns the CPU time used so far (cmd/internal/proccpu).
func (p procs) read() cpuTimes {
	var c cpuTimes
	var ok bool
	if c.service, ok = proccpu.Process(p.service); !ok {
		return c
	}
	if c.postgres, ok = proccpu.Postgres(p.postmaster); !ok {
		return c
	}
	c.generator = proccpu.Self()
	c.ok = c.generator > 0
	return c
}

// perRequest is the CPU each side spent per request of a step.
type perRequest struct {
	service, postgres, generator time.Duration
}

// per divides the CPU used between a and b by n requests; ok is false when
// either reading failed.
func per(a, b cpuTimes, n uint64) (perRequest, bool) {
	if !a.ok || !b.ok || n == 0 {
		return perRequest{}, false
	}
	d := time.Duration(n)
	return perRequest{service: (b.service - a.service) / d, postgres: (b.postgres - a.postgres) / d,
		generator: (b.generator - a.generator) / d}, true
}

func (r perRequest) String() string {
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) }
	return "CPU per request: service " + ms(r.service) + " ms, PostgreSQL " + ms(r.postgres) +
		" ms, generator " + ms(r.generator) + " ms"
}
