package pgtest

import (
	"context"
	"net"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// psql runs one query against dsn and returns its unaligned, tuples-only
// output. A missing psql fails the test.
func psql(t *testing.T, dsn, query string) string {
	t.Helper()
	bin, err := Tool("psql")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", query, dsn)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql %q against %s: %v\n%s", query, dsn, err, out)
	}
	return strings.TrimSpace(string(out))
}

func checkDSN(t *testing.T, dsn string) *url.URL {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("DSN %q: %v", dsn, err)
	}
	if u.Scheme != "postgres" || u.User.Username() != Superuser || u.Hostname() != "127.0.0.1" ||
		u.Port() == "" || u.Path != "/"+Database || u.Query().Get("sslmode") != "disable" {
		t.Fatalf("DSN %q: want postgres://%s@127.0.0.1:PORT/%s?sslmode=disable", dsn, Superuser, Database)
	}
	return u
}

func TestStart(t *testing.T) {
	began := time.Now()
	dsn := Start(t)
	t.Logf("Start took %v", time.Since(began))
	checkDSN(t, dsn)

	if got := psql(t, dsn, "select 1"); got != "1" {
		t.Fatalf("select 1 = %q", got)
	}
	// Connected as the superuser, to the database Start created, over TCP.
	got := psql(t, dsn, "select current_user || ' ' || current_database() || ' ' || rolsuper::text || ' ' || (inet_server_addr() = '127.0.0.1')::text || ' ' || current_setting('fsync') from pg_roles where rolname = current_user")
	if want := "microguard microguard true true on"; got != want {
		t.Fatalf("session = %q, want %q", got, want)
	}
	if got := psql(t, dsn, "show listen_addresses"); got != "127.0.0.1" {
		t.Fatalf("listen_addresses = %q, want 127.0.0.1", got)
	}
}

func TestTwoServersAtOnce(t *testing.T) {
	var (
		mu   sync.Mutex
		dsns []string
		wg   sync.WaitGroup
	)
	// Started concurrently, the way parallel tests would.
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dsn, err := start(t)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			dsns = append(dsns, dsn)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	a, b := checkDSN(t, dsns[0]), checkDSN(t, dsns[1])
	if a.Port() == b.Port() {
		t.Fatalf("both servers on port %s", a.Port())
	}
	// Each is its own cluster: a table in one is absent from the other.
	psql(t, dsns[0], "create table only_here (x int)")
	for i, dsn := range dsns {
		want := []string{"1", "0"}[i]
		if got := psql(t, dsn, "select count(*) from pg_tables where tablename = 'only_here'"); got != want {
			t.Fatalf("server %d (%s): only_here count = %q, want %q", i, dsn, got, want)
		}
	}
}

func TestBinariesMissingSaysHowToInstall(t *testing.T) {
	t.Setenv(EnvBin, t.TempDir())
	_, err := Binaries()
	if err == nil {
		t.Fatal("Binaries() with an empty " + EnvBin + ": no error")
	}
	for _, want := range []string{"apt-get install postgresql", ".ci/run", EnvBin} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestVersionLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		less bool
	}{{"9.6", "15", true}, {"15", "9.6", false}, {"14", "15", true}, {"17", "17", false}, {"16", "16.1", true}} {
		if got := versionLess(c.a, c.b); got != c.less {
			t.Errorf("versionLess(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

// A port taken between freePort and the server binding it is retried on
// another port.
func TestStartRetriesATakenPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	real := freePort
	t.Cleanup(func() { freePort = real })
	calls := 0
	freePort = func() (int, error) {
		calls++
		if calls == 1 {
			return busyPort, nil
		}
		return real()
	}
	u := checkDSN(t, Start(t))
	if calls != 2 || u.Port() == strconv.Itoa(busyPort) {
		t.Fatalf("freePort called %d times, DSN port %s, busy port %d: want a retry on another port", calls, u.Port(), busyPort)
	}
	if got := psql(t, u.String(), "select 1"); got != "1" {
		t.Fatalf("select 1 = %q", got)
	}
}
