package proccpu

import (
	"os"
	"testing"
	"time"
)

// TestProcess: this process's CPU time read from /proc grows while it
// spins and agrees with getrusage(2) to within a few ticks.
func TestProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	before, ok := Process(os.Getpid())
	if !ok {
		t.Fatal("Process: /proc/<pid>/stat not read")
	}
	spin := time.Now().Add(200 * time.Millisecond)
	x := 0
	for time.Now().Before(spin) {
		x++
	}
	after, _ := Process(os.Getpid())
	if after <= before {
		t.Errorf("CPU time did not grow while spinning: %s then %s (%d turns)", before, after, x)
	}
	if d := Self() - after; d < -50*time.Millisecond || d > 500*time.Millisecond {
		t.Errorf("getrusage says %s, /proc says %s", Self(), after)
	}
}

// TestPostgresNone: no postmaster, no reading.
func TestPostgresNone(t *testing.T) {
	if _, ok := Postgres(0); ok {
		t.Error("Postgres(0) reported a time")
	}
	if pid := Postmaster(t.TempDir()); pid != 0 {
		t.Errorf("Postmaster of an empty directory = %d", pid)
	}
}
