// Package pgserver starts and stops a private PostgreSQL server from the
// PostgreSQL binaries installed on the machine, for development, for "fsecgm
// serve" without a DATABASE_URL, and for tests.
//
// The server keeps its data in a directory of its own (initialised with
// initdb on first use), listens only on a Unix socket in a private
// directory (listen_addresses is empty, so nothing is reachable over the
// network) and trusts local connections, which only the owner of the socket
// directory can make. PostgreSQL refuses to run as root: when the caller is
// root, initdb and the server run as the "postgres" user, which must exist
// (the Debian and Ubuntu packages create it).
//
// The server is a child process of the caller. On Linux it is also told to
// shut down when the caller dies, so a crashed test binary does not leave a
// server behind.
package pgserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNotInstalled is returned by Start when the PostgreSQL server binaries
// (initdb and postgres) cannot be found. Its message says what to install.
var ErrNotInstalled = errors.New("pgserver: PostgreSQL server binaries (initdb, postgres) not found")

// Port is the port number in the name of the Unix socket
// (".s.PGSQL.5432"); no TCP port is opened.
const Port = 5432

// User is the database superuser created by initdb, and the operating
// system user the server runs as when the caller is root.
const User = "postgres"

// maxSocketPath is the longest Unix socket path the kernel accepts
// (sizeof(sockaddr_un.sun_path) - 1 on Linux).
const maxSocketPath = 107

// Options configure Start.
type Options struct {
	// DataDir is the data directory. It is created and initialised with
	// initdb when it holds no cluster yet. Required.
	DataDir string
	// SocketDir is the directory of the Unix socket; DataDir when empty.
	SocketDir string
	// BinDir holds initdb and postgres; found with FindBinDir when empty.
	BinDir string
	// NoSync turns off fsync, synchronous_commit and full_page_writes. For
	// tests and benchmarks only: a crash of the machine can lose or corrupt
	// the data.
	NoSync bool
	// Settings are extra server settings (name → value), passed as -c.
	Settings map[string]string
	// Logger receives the server's start and stop events; nil discards them.
	Logger *slog.Logger
}

// Server is a running PostgreSQL server.
type Server struct {
	socketDir string
	port      int
	dataDir   string
	logger    *slog.Logger

	cmd     *exec.Cmd // nil when the server was already running (not ours)
	exited  chan struct{}
	waitErr error
	stop    sync.Once
	stopErr error
}

// Start starts a server on opts.DataDir, initialising the directory first if
// needed, and returns when it accepts connections. If a server is already
// running on that data directory (another fsecgm process started it), Start
// returns that server, and Stop leaves it running.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("pgserver: no data directory given")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("pgserver: data directory: %w", err)
	}
	socketDir := dataDir
	if opts.SocketDir != "" {
		if socketDir, err = filepath.Abs(opts.SocketDir); err != nil {
			return nil, fmt.Errorf("pgserver: socket directory: %w", err)
		}
	}

	if s, ok := running(ctx, dataDir, logger); ok {
		return s, nil
	}

	if len(socketPath(socketDir, Port)) > maxSocketPath {
		return nil, fmt.Errorf("pgserver: socket path %s is longer than %d bytes: choose a shorter socket directory",
			socketPath(socketDir, Port), maxSocketPath)
	}
	binDir := opts.BinDir
	if binDir == "" {
		if binDir, err = FindBinDir(); err != nil {
			return nil, err
		}
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	for _, dir := range []string{dataDir, socketDir} {
		if err := prepareDir(dir, cred); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); errors.Is(err, fs.ErrNotExist) {
		if err := initdb(ctx, binDir, dataDir, opts.NoSync, cred, logger); err != nil {
			return nil, err
		}
	}

	logPath := filepath.Join(dataDir, "pgserver.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pgserver: server log: %w", err)
	}
	defer logFile.Close() // the child keeps its own descriptor

	args := []string{"-D", dataDir, "-k", socketDir, "-p", strconv.Itoa(Port),
		"-c", "listen_addresses=", "-c", "unix_socket_permissions=0700"}
	settings := map[string]string{}
	if opts.NoSync {
		settings["fsync"] = "off"
		settings["synchronous_commit"] = "off"
		settings["full_page_writes"] = "off"
	}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+settings[k])
	}
	cmd := exec.Command(filepath.Join(binDir, "postgres"), args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = procAttr(cred)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("pgserver: start postgres: %w", err)
	}
	s := &Server{socketDir: socketDir, port: Port, dataDir: dataDir, logger: logger, cmd: cmd, exited: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx, logPath); err != nil {
		_ = s.Stop()
		return nil, err
	}
	logger.Info("pgserver: PostgreSQL started", "data_dir", dataDir, "socket_dir", socketDir, "pid", cmd.Process.Pid)
	return s, nil
}

// URL returns the connection URL of database db on the server.
func (s *Server) URL(db string) string {
	return URL(s.socketDir, s.port, db)
}

// URL returns the connection URL of database db on a server listening on a
// Unix socket in socketDir.
func URL(socketDir string, port int, db string) string {
	u := url.URL{Scheme: "postgres", User: url.User(User), Path: "/" + db,
		RawQuery: url.Values{"host": {socketDir}, "port": {strconv.Itoa(port)}, "sslmode": {"disable"}}.Encode()}
	return u.String()
}

// SocketDir returns the directory of the server's Unix socket.
func (s *Server) SocketDir() string { return s.socketDir }

// CreateDatabase creates database name unless it exists.
func (s *Server) CreateDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return fmt.Errorf("pgserver: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("pgserver: look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		var again bool // a concurrent caller may have created it meanwhile
		if qerr := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&again); qerr == nil && again {
			return nil
		}
		return fmt.Errorf("pgserver: create database %s: %w", name, err)
	}
	return nil
}

// Stop shuts the server down (fast shutdown: open sessions are ended) and
// waits for it to exit. Stopping a server that Start found already running
// does nothing. Stop may be called more than once.
func (s *Server) Stop() error {
	if s.cmd == nil {
		return nil
	}
	s.stop.Do(func() {
		select {
		case <-s.exited:
		default:
			_ = s.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
			select {
			case <-s.exited:
			case <-time.After(60 * time.Second):
				_ = s.cmd.Process.Signal(syscall.SIGQUIT) // immediate shutdown
				select {
				case <-s.exited:
				case <-time.After(10 * time.Second):
					_ = s.cmd.Process.Kill()
					<-s.exited
				}
			}
		}
		var xe *exec.ExitError
		if s.waitErr != nil && !errors.As(s.waitErr, &xe) {
			s.stopErr = fmt.Errorf("pgserver: stop: %w", s.waitErr)
		}
		s.logger.Info("pgserver: PostgreSQL stopped", "data_dir", s.dataDir)
	})
	return s.stopErr
}

// waitReady waits until the server accepts connections, the server exits,
// or ctx ends.
func (s *Server) waitReady(ctx context.Context, logPath string) error {
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(socketPath(s.socketDir, s.port)); err == nil {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			conn, err := pgx.Connect(cctx, s.URL("postgres"))
			cancel()
			if err == nil {
				conn.Close(context.WithoutCancel(ctx))
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("pgserver: postgres exited during start-up (%v); last lines of %s:\n%s", s.waitErr, logPath, tail(logPath, 15))
		case <-ctx.Done():
			return fmt.Errorf("pgserver: waiting for postgres to start: %w", ctx.Err())
		case <-deadline.C:
			return fmt.Errorf("pgserver: postgres did not accept connections within 2 minutes; last lines of %s:\n%s", logPath, tail(logPath, 15))
		case <-tick.C:
		}
	}
}

// running returns the server already running on dataDir, if there is one
// that accepts connections.
func running(ctx context.Context, dataDir string, logger *slog.Logger) (*Server, bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return nil, false
	}
	// postmaster.pid lines: pid, data directory, start time, port, socket
	// directory, listen address, shared memory key, status.
	lines := strings.Split(string(b), "\n")
	if len(lines) < 5 {
		return nil, false
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err != nil || strings.TrimSpace(lines[4]) == "" {
		return nil, false
	}
	socketDir := strings.TrimSpace(lines[4])
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, URL(socketDir, port, "postgres"))
	if err != nil {
		return nil, false
	}
	conn.Close(context.WithoutCancel(ctx))
	logger.Info("pgserver: using the PostgreSQL already running on the data directory", "data_dir", dataDir, "socket_dir", socketDir)
	return &Server{socketDir: socketDir, port: port, dataDir: dataDir, logger: logger}, true
}

// initdb initialises a new cluster in dataDir.
func initdb(ctx context.Context, binDir, dataDir string, noSync bool, cred *syscall.Credential, logger *slog.Logger) error {
	args := []string{"-D", dataDir, "-U", User, "--auth=trust", "--encoding=UTF8", "--locale=C"}
	if noSync {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"), args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.SysProcAttr = procAttr(cred)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgserver: initdb %s: %w\n%s", dataDir, err, out.String())
	}
	logger.Info("pgserver: initialised a new PostgreSQL data directory", "data_dir", dataDir)
	return nil
}

// serverCredential returns the user the server must run as: nil for the
// calling user, the postgres user when the caller is root.
func serverCredential() (*syscall.Credential, error) {
	if runtime.GOOS == "windows" || os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(User)
	if err != nil {
		return nil, fmt.Errorf("pgserver: running as root, PostgreSQL must run as user %q, which does not exist: %w (install the postgresql package, or run as an ordinary user)", User, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("pgserver: user %q has a non-numeric uid or gid", User)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// prepareDir creates dir (mode 0700) owned by the server's user, and checks
// that the server's user can reach it.
func prepareDir(dir string, cred *syscall.Credential) error {
	// Parents we create are searchable by all; dir itself is private.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("pgserver: create %s: %w", filepath.Dir(dir), err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pgserver: create %s: %w", dir, err)
	}
	if cred == nil {
		return os.Chmod(dir, 0o700)
	}
	if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
		return fmt.Errorf("pgserver: give %s to user %s: %w", dir, User, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("pgserver: chmod %s: %w", dir, err)
	}
	// Every ancestor must be searchable by the postgres user.
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pgserver: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		searchable := fi.Mode().Perm()&0o001 != 0 ||
			ok && st.Uid == cred.Uid && fi.Mode().Perm()&0o100 != 0 ||
			ok && st.Gid == cred.Gid && fi.Mode().Perm()&0o010 != 0
		if !searchable {
			return fmt.Errorf("pgserver: directory %s is not searchable by user %s, who runs PostgreSQL: run \"chmod o+x %s\" or choose another data directory", p, User, p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// FindBinDir returns the directory holding the PostgreSQL server binaries:
// the one "pg_config --bindir" names, else the newest
// /usr/lib/postgresql/*/bin (Debian, Ubuntu), else the directory of
// "postgres" on PATH. The error, ErrNotInstalled, says what to install.
func FindBinDir() (string, error) {
	var candidates []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(dirs) > 0 {
		sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
		candidates = append(candidates, dirs...)
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		candidates = append(candidates, filepath.Dir(p))
	}
	for _, dir := range candidates {
		if isExec(filepath.Join(dir, "postgres")) && isExec(filepath.Join(dir, "initdb")) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%w: %s", ErrNotInstalled, InstallHint())
}

// versionOf returns the major version in a path /usr/lib/postgresql/N/bin.
func versionOf(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode().Perm()&0o111 != 0
}

// Debian reports whether the machine runs Debian, Ubuntu or a derivative,
// where the server comes from the apt package "postgresql".
func Debian() bool {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok || (k != "ID" && k != "ID_LIKE") {
			continue
		}
		for _, id := range strings.Fields(strings.Trim(v, `"'`)) {
			if id == "debian" || id == "ubuntu" {
				return true
			}
		}
	}
	return false
}

// InstallHint says how to install the PostgreSQL server on this machine.
func InstallHint() string {
	switch {
	case Debian():
		return "install the PostgreSQL server with \"apt-get update && apt-get install -y postgresql\" (as root or with sudo)"
	case runtime.GOOS == "darwin":
		return "install the PostgreSQL server, for example with \"brew install postgresql@15\", and put its bin directory on PATH"
	default:
		return "install the PostgreSQL server (version 13 or later; the package usually named postgresql or postgresql-server) so that initdb and postgres are on PATH, or set DATABASE_URL to an existing database"
	}
}

// Install installs the PostgreSQL server from the OS packages on Debian and
// Ubuntu ("apt-get update && apt-get install -y postgresql"), writing apt's
// output to w. It must run as root; elsewhere it returns an error saying
// what to install.
func Install(ctx context.Context, w io.Writer) error {
	if !Debian() {
		return fmt.Errorf("%w: %s", ErrNotInstalled, InstallHint())
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: run \"sudo apt-get update && sudo apt-get install -y postgresql\" and try again", ErrNotInstalled)
	}
	// Wait for dpkg's lock (another install in progress) rather than fail.
	lock := []string{"-o", "DPkg::Lock::Timeout=600"}
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "postgresql"}} {
		cmd := exec.CommandContext(ctx, "apt-get", append(lock, args...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout = w
		cmd.Stderr = w
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("pgserver: apt-get %s: %w", strings.Join(args, " "), err)
		}
	}
	if _, err := FindBinDir(); err != nil {
		return err
	}
	return nil
}

func socketPath(dir string, port int) string {
	return filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(port))
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
