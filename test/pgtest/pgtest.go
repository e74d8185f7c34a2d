// Package pgtest starts throwaway PostgreSQL servers for tests: a real
// server (initdb, pg_ctl, postgres from a local PostgreSQL installation),
// one per call, each in its own directory on its own loopback port, stopped
// and removed when the test ends.
//
// PostgreSQL must be installed; a missing installation fails the test, it
// never skips it. On Debian/Ubuntu: apt-get install postgresql (.ci/run does
// this). MICROGUARD_PG_BIN may name the directory holding initdb and pg_ctl.
//
// initdb, pg_ctl and postgres refuse to run as root. When the tests run as
// root, the server runs as the unprivileged "postgres" system user (created
// by the Debian package), or "nobody" when that user does not exist: the
// processes are started with that user's uid and gid, and the server's
// directory is owned by it.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// EnvBin names the environment variable that overrides the directory of the
// PostgreSQL server binaries.
const EnvBin = "MICROGUARD_PG_BIN"

const (
	// Superuser is the database superuser initdb creates; trust
	// authentication, so the DSN carries no password.
	Superuser = "microguard"
	// Database is the database Start creates.
	Database = "microguard"

	startAttempts = 3
	cmdTimeout    = 60 * time.Second
)

const installHint = "install PostgreSQL: apt-get install postgresql " +
	"(Debian package `postgresql`; .ci/run installs it), or set " + EnvBin +
	" to the directory holding initdb, pg_ctl and postgres"

// Binaries reports the directory holding initdb, pg_ctl and postgres: $MICROGUARD_PG_BIN
// if set, else the directory of initdb on PATH, else the newest
// /usr/lib/postgresql/*/bin. The error says how to install them.
func Binaries() (string, error) {
	if dir := os.Getenv(EnvBin); dir != "" {
		if err := hasServerBinaries(dir); err != nil {
			return "", fmt.Errorf("pgtest: %s=%s: %v; %s", EnvBin, dir, err, installHint)
		}
		return dir, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		// Prefer the directory the binary really lives in (Debian's
		// /usr/lib/postgresql/N/bin holds createdb and psql too), then
		// the directory on PATH.
		var dirs []string
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
		if abs, err := filepath.Abs(p); err == nil {
			dirs = append(dirs, filepath.Dir(abs))
		}
		for _, dir := range dirs {
			if hasServerBinaries(dir) == nil {
				return dir, nil
			}
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(matches, func(i, j int) bool { // newest first: 9.6 < 15 < 17
		return versionLess(filepath.Base(filepath.Dir(matches[j])), filepath.Base(filepath.Dir(matches[i])))
	})
	for _, dir := range matches {
		if hasServerBinaries(dir) == nil {
			return dir, nil
		}
	}
	return "", errors.New("pgtest: PostgreSQL server binaries (initdb, pg_ctl, postgres) not found " +
		"in $" + EnvBin + ", on PATH or in /usr/lib/postgresql/*/bin; " + installHint)
}

func hasServerBinaries(dir string) error {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("no %s", name)
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%s is not executable", filepath.Join(dir, name))
		}
	}
	return nil
}

// versionLess compares dotted numeric versions ("9.6", "15").
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, errx := strconv.Atoi(as[i])
		y, erry := strconv.Atoi(bs[i])
		if errx != nil || erry != nil {
			if as[i] != bs[i] {
				return as[i] < bs[i]
			}
			continue
		}
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

// Tool returns the path of a PostgreSQL client program (psql, createdb, ...):
// from the server's bin directory, else from PATH.
func Tool(name string) (string, error) {
	if dir, err := Binaries(); err == nil {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("pgtest: %s not found next to initdb or on PATH; %s", name, installHint)
	}
	return p, nil
}

// server is one running instance.
type server struct {
	bin  string
	base string // owns everything below
	data string
	sock string
	log  string
	cred *syscall.Credential // nil: run as ourselves
	port int
}

// Start starts a throwaway PostgreSQL server for the test and returns its
// DSN, postgres://microguard@127.0.0.1:PORT/microguard?sslmode=disable.
//
// The cluster is initialised (initdb, trust authentication, superuser
// microguard) in a fresh directory under os.TempDir(); the server listens
// only on 127.0.0.1 at a free port, its unix socket lives in that directory,
// fsync stays on. Start returns once the server accepts connections and the
// database microguard exists. At t.Cleanup the server is stopped (pg_ctl stop
// -m fast) and the directory removed. Safe for parallel tests.
//
// A missing PostgreSQL installation fails the test (t.Fatalf), naming the
// package to install.
func Start(t testing.TB) string {
	t.Helper()
	dsn, err := start(t)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return dsn
}

func start(t testing.TB) (string, error) {
	began := time.Now()
	bin, err := Binaries()
	if err != nil {
		return "", err
	}
	createdb, err := Tool("createdb")
	if err != nil {
		return "", err
	}
	s := &server{bin: bin}
	if os.Geteuid() == 0 {
		if s.cred, err = unprivileged(); err != nil {
			return "", err
		}
	}
	parent, err := tempParent(s.cred != nil)
	if err != nil {
		return "", err
	}
	if s.base, err = os.MkdirTemp(parent, "pgtest-"); err != nil {
		return "", fmt.Errorf("pgtest: %v", err)
	}
	t.Cleanup(func() { // registered first, so it runs after the stop below
		if err := os.RemoveAll(s.base); err != nil {
			t.Logf("pgtest: removing %s: %v", s.base, err)
		}
	})
	s.data = filepath.Join(s.base, "data")
	s.sock = filepath.Join(s.base, "sock")
	s.log = filepath.Join(s.base, "server.log")
	if err := os.Mkdir(s.sock, 0o700); err != nil {
		return "", fmt.Errorf("pgtest: %v", err)
	}
	if s.cred != nil {
		for _, p := range []string{s.base, s.sock} {
			if err := os.Chown(p, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
				return "", fmt.Errorf("pgtest: chown %s to uid %d: %v", p, s.cred.Uid, err)
			}
		}
	}

	if out, err := s.run(filepath.Join(bin, "initdb"),
		"-D", s.data, "-U", Superuser, "--auth=trust", "--no-locale", "-E", "UTF8"); err != nil {
		return "", fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}

	for attempt := 1; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			return "", fmt.Errorf("pgtest: free port: %v", err)
		}
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", s.port, shellQuote(s.sock))
		out, err := s.run(filepath.Join(bin, "pg_ctl"),
			"-D", s.data, "-o", opts, "-w", "-t", "60", "-l", s.log, "start")
		if err == nil {
			break
		}
		tail := logTail(s.log, 30)
		// A server that may have come up half-way must not outlive the test.
		s.stop()
		if attempt < startAttempts && portTaken(tail) {
			t.Logf("pgtest: port %d taken before the server bound it, retrying", s.port)
			continue
		}
		return "", fmt.Errorf("pgtest: pg_ctl start (port %d): %v\n%s\nserver log %s (tail):\n%s",
			s.port, err, out, s.log, tail)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pgtest: server log %s (tail):\n%s", s.log, logTail(s.log, 30))
		}
		if err := s.stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})

	// Over TCP, the way the DSN will be used: proves the port is ours.
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, createdb, "-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", Superuser, Database)
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("pgtest: createdb %s: %v\n%s\nserver log (tail):\n%s", Database, err, out, logTail(s.log, 30))
	}
	dsn := fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", Superuser, s.port, Database)
	t.Logf("pgtest: PostgreSQL from %s at %s (data %s, started in %v)", bin, dsn, s.data, time.Since(began).Round(time.Millisecond))
	return dsn, nil
}

// stop stops the server: fast shutdown, immediate if that fails.
func (s *server) stop() error {
	if _, err := os.Stat(filepath.Join(s.data, "postmaster.pid")); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	pgctl := filepath.Join(s.bin, "pg_ctl")
	out, err := s.run(pgctl, "-D", s.data, "-m", "fast", "-w", "-t", "30", "stop")
	if err == nil {
		return nil
	}
	out2, err2 := s.run(pgctl, "-D", s.data, "-m", "immediate", "-w", "-t", "30", "stop")
	if err2 == nil {
		return nil
	}
	return fmt.Errorf("pg_ctl stop -D %s: %v\n%s\nimmediate: %v\n%s", s.data, err, out, err2, out2)
}

// run runs a server binary, as the unprivileged user when we are root.
func (s *server) run(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = s.base // the unprivileged user may not be able to see our cwd
	cmd.Env = cleanEnv()
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// unprivileged returns the credentials of the postgres system user, or of
// nobody.
func unprivileged() (*syscall.Credential, error) {
	var errs []string
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			errs = append(errs, fmt.Sprintf("user %s: unusable uid %q gid %q", name, u.Uid, u.Gid))
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
	}
	return nil, fmt.Errorf("pgtest: running as root, and initdb refuses root; no unprivileged user to run PostgreSQL as (%s)",
		strings.Join(errs, "; "))
}

// tempParent returns the directory to create the server's directory in. As
// root the server runs as another user, which must be able to traverse every
// directory above it: os.TempDir() if so, else /tmp.
func tempParent(unprivileged bool) (string, error) {
	dir := os.TempDir()
	if !unprivileged || traversable(dir) {
		return dir, nil
	}
	if traversable("/tmp") {
		return "/tmp", nil
	}
	return "", fmt.Errorf("pgtest: neither %s nor /tmp is traversable by an unprivileged user", dir)
}

// traversable reports whether every directory from / down to dir is
// searchable by others.
func traversable(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		up := filepath.Dir(dir)
		if up == dir {
			return true
		}
		dir = up
	}
}

// freePort returns a loopback TCP port that was free a moment ago (a
// variable so the port-race retry can be tested).
var freePort = func() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portTaken reports whether the server log says the port was in use.
func portTaken(log string) bool {
	return strings.Contains(log, "Address already in use") ||
		strings.Contains(log, "could not create any TCP/IP sockets")
}

// cleanEnv is our environment without PG* variables (PGDATA, PGPORT, PGHOST,
// ...), which would redirect the tools, and with messages in English, so the
// server log can be matched.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_ALL=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

func shellQuote(s string) string { // pg_ctl passes -o through /bin/sh
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func logTail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no server log: %v)", err)
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}
