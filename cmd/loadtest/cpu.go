package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
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

// userHZ is the unit of the times in /proc/<pid>/stat (USER_HZ, 100 on
// every Linux architecture Go supports; proc(5)).
const userHZ = 100

// newProcs finds PostgreSQL's postmaster from dataDir/postmaster.pid.
func newProcs(service int, dataDir string) procs {
	p := procs{service: service}
	if b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid")); err == nil {
		line, _, _ := bytes.Cut(b, []byte("\n"))
		p.postmaster, _ = strconv.Atoi(string(bytes.TrimSpace(line)))
	}
	return p
}

// statFields returns the fields of /proc/<pid>/stat after the command name
// (field 3, the state, is the first).
func statFields(pid int) ([][]byte, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, false
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces
	if i < 0 {
		return nil, false
	}
	f := bytes.Fields(b[i+1:])
	return f, len(f) >= 15
}

// ticks sums the fields of f numbered from the stat line's field numbers
// (proc(5): 14 utime, 15 stime, 16 cutime, 17 cstime).
func ticks(f [][]byte, fields ...int) time.Duration {
	var t int64
	for _, n := range fields {
		v, _ := strconv.ParseInt(string(f[n-3]), 10, 64)
		t += v
	}
	return time.Duration(t) * time.Second / userHZ
}

// read returns the CPU time used so far. PostgreSQL's is the postmaster's
// own and that of its exited children (cutime, cstime), plus that of its
// live backends (whose parent it is).
func (p procs) read() cpuTimes {
	var c cpuTimes
	f, ok := statFields(p.service)
	if !ok || p.postmaster == 0 {
		return c
	}
	c.service = ticks(f, 14, 15)
	pm, ok := statFields(p.postmaster)
	if !ok {
		return c
	}
	c.postgres = ticks(pm, 14, 15, 16, 17)
	dirs, _ := os.ReadDir("/proc")
	want := []byte(strconv.Itoa(p.postmaster))
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == p.postmaster {
			continue
		}
		if f, ok := statFields(pid); ok && bytes.Equal(f[1], want) { // field 4: ppid
			c.postgres += ticks(f, 14, 15)
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return c
	}
	c.generator = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	c.ok = true
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
