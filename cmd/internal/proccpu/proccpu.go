// Package proccpu reads the CPU time of processes from Linux's /proc
// (proc(5), /proc/[pid]/stat) for the benchmarks and the load test, which
// charge the work PostgreSQL does for them to what they measure. Where
// /proc is absent the readings report ok false (or 0).
package proccpu

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"
)

// userHZ is the unit of the times in /proc/[pid]/stat (USER_HZ, 100 on
// every Linux architecture Go supports; proc(5)).
const userHZ = 100

// Self returns the user and system CPU time of this process (getrusage(2)).
func Self() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Process returns the user and system CPU time of process pid.
func Process(pid int) (time.Duration, bool) {
	f, ok := statFields(pid)
	if !ok {
		return 0, false
	}
	return ticks(f, 14, 15), true
}

// Postmaster returns the PostgreSQL postmaster's PID, the first line of
// dataDir/postmaster.pid; 0 when it cannot be read.
func Postmaster(dataDir string) int {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	pid, _ := strconv.Atoi(string(bytes.TrimSpace(line)))
	return pid
}

// Postgres returns the CPU time used so far by the PostgreSQL server whose
// postmaster is pid: the postmaster's own and that of its exited children
// (cutime, cstime: backends that ended), plus that of its live children
// (backends and auxiliary processes, whose parent it is).
func Postgres(postmaster int) (time.Duration, bool) {
	if postmaster == 0 {
		return 0, false
	}
	pm, ok := statFields(postmaster)
	if !ok {
		return 0, false
	}
	t := ticks(pm, 14, 15, 16, 17)
	dirs, _ := os.ReadDir("/proc")
	want := []byte(strconv.Itoa(postmaster))
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == postmaster {
			continue
		}
		if f, ok := statFields(pid); ok && bytes.Equal(f[1], want) { // field 4: ppid
			t += ticks(f, 14, 15)
		}
	}
	return t, true
}

// statFields returns the fields of /proc/[pid]/stat after the command name
// (field 3, the state, is the first), which may hold spaces.
func statFields(pid int) ([][]byte, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, false
	}
	f := bytes.Fields(b[i+1:])
	return f, len(f) >= 15
}

// ticks sums the fields of f by their numbers in proc(5) (14 utime,
// 15 stime, 16 cutime, 17 cstime).
func ticks(f [][]byte, fields ...int) time.Duration {
	var t int64
	for _, n := range fields {
		v, _ := strconv.ParseInt(string(f[n-3]), 10, 64)
		t += v
	}
	return time.Duration(t) * time.Second / userHZ
}

// Profile writes this process's CPU profile (runtime/pprof) to the file
// path until stop is called; with path empty it does nothing.
func Profile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
