// Package runsvc builds the fsecgm binary and runs "fsecgm serve" as a
// child process, for the operational harnesses (cmd/loadtest, cmd/faults):
// start, wait until it listens, kill it with SIGKILL, stop it with SIGTERM,
// read its log.
package runsvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"time"
)

// Build compiles ./cmd/fsecgm of the module in the working directory into
// dir and returns the binary's path.
func Build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "fsecgm")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/fsecgm")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("runsvc: go build ./cmd/fsecgm: %w\n%s", err, out.String())
	}
	return bin, nil
}

// Options describe a "fsecgm serve" child.
type Options struct {
	// Binary is the fsecgm binary (Build).
	Binary string
	// Args follow "serve" ("--dev", "--addr", "127.0.0.1:0", ...).
	Args []string
	// Env is the child's whole environment besides PATH and HOME.
	Env map[string]string
	// LogFile receives the child's stderr (its JSON log) and stdout,
	// appended.
	LogFile string
}

// Proc is a running "fsecgm serve".
type Proc struct {
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error
	// URL is the service's base URL, http://127.0.0.1:PORT.
	URL string
	// Started is when it began listening.
	Started time.Time
}

var listeningRE = regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`)

// Start starts the child and waits (up to two minutes) until it listens.
func Start(ctx context.Context, o Options) (*Proc, error) {
	f, err := os.OpenFile(o.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("runsvc: log file: %w", err)
	}
	offset, _ := f.Seek(0, 2)
	cmd := exec.Command(o.Binary, append([]string{"serve"}, o.Args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range o.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group: a SIGINT to the harness does not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("runsvc: start fsecgm serve: %w", err)
	}
	p := &Proc{cmd: cmd, log: f, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		b, _ := os.ReadFile(o.LogFile)
		if int64(len(b)) > offset {
			if m := listeningRE.FindSubmatch(b[offset:]); m != nil {
				p.URL = "http://" + string(m[1])
				p.Started = time.Now()
				return p, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("runsvc: fsecgm serve exited at start (%v); see %s", p.err, o.LogFile)
		case <-ctx.Done():
			p.Kill()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Kill()
			return nil, fmt.Errorf("runsvc: fsecgm serve did not listen within 2 minutes; see %s", o.LogFile)
		}
	}
}

// Pid returns the child's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Kill sends SIGKILL (kill -9) and waits for the child to die.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to limit for the child to exit; it
// returns how long that took and the exit error (nil for status 0).
func (p *Proc) Stop(limit time.Duration) (time.Duration, error) {
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return time.Since(start), p.err
	case <-time.After(limit):
		p.Kill()
		return time.Since(start), errors.New("runsvc: did not exit in time; killed")
	}
}

// Exited reports whether the child has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Client is an HTTP client for the harnesses: many connections per host,
// no proxy.
func Client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		Proxy: nil, MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 30 * time.Second,
	}}
}
