package decisionlog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

// TimeFormat is how record times are written: RFC 3339 in UTC with
// nanoseconds always present, so that times sort as strings.
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// Store is the database under a decision log: SQLite or PostgreSQL.
type Store struct {
	db       *sql.DB
	postgres bool
	target   string
	// inserts are the prepared inserts of 1..preparedRows records: that of
	// one record when the store is opened (so that a schema it cannot
	// write to fails at start), the others when first used (by the writer
	// goroutine).
	insertsMu sync.Mutex
	inserts   map[int]*sql.Stmt
}

// IsPostgres reports whether target names a PostgreSQL database.
func IsPostgres(target string) bool {
	return strings.HasPrefix(target, "postgres://") || strings.HasPrefix(target, "postgresql://")
}

// OpenStore opens (and creates, for SQLite) the store at target: a
// postgres:// DSN, a directory (decisions.db inside it) or a file path.
func OpenStore(ctx context.Context, target string) (*Store, error) {
	return openStore(ctx, target, SyncFull)
}

// SQLite sync levels (PRAGMA synchronous in WAL mode).
const (
	// SyncFull: a commit returns once it is on disk; a record survives
	// process, OS and power failures.
	SyncFull = "full"
	// SyncNormal: a commit returns once it is in the WAL (the OS page
	// cache); a record survives the process being killed, not an OS crash
	// or power loss before the next WAL checkpoint.
	SyncNormal = "normal"
)

func openStore(ctx context.Context, target, sync string) (*Store, error) {
	s := &Store{postgres: IsPostgres(target), target: target}
	var err error
	if s.postgres {
		s.db, err = sql.Open("pgx", target)
		if err == nil {
			s.db.SetMaxOpenConns(8)
		}
	} else {
		path := target
		if st, statErr := os.Stat(path); statErr == nil && st.IsDir() {
			path = filepath.Join(path, "decisions.db")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("decision log %s: %w", target, err)
		}
		// WAL; with SyncFull a commit returns only once it is on disk.
		level := "FULL"
		if sync == SyncNormal {
			level = "NORMAL"
		}
		// No automatic checkpoints: a Log checkpoints the WAL beside its
		// writer (Log.checkpointWAL), not inside a commit.
		// temp_store(memory): SQLite's temporary files (the statement
		// journal of a group commit of several INSERTs, sorts) stay in
		// memory. The chart's pod has a read-only root filesystem and no
		// temporary directory, where a commit of 512 records failed with
		// "disk I/O error (6410)" (TestCommitsOnAReadOnlyRootFilesystem).
		// They are small here: a journal holds one commit's pages (512
		// records at most), and an export sorts only records of the same
		// time (by the time index); a VACUUM, which microguard never runs,
		// would need the database's size in memory.
		dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(" + level + ")&_pragma=busy_timeout(10000)&_pragma=wal_autocheckpoint(0)&_pragma=temp_store(memory)&_txlock=immediate"
		s.db, err = sql.Open("sqlite", dsn)
		if err == nil {
			s.db.SetMaxOpenConns(4)
		}
		s.target = path
	}
	if err != nil {
		return nil, fmt.Errorf("decision log %s: %w", redactDSN(target), err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("decision log %s: %w", redactDSN(target), err)
	}
	if _, err = s.prepared(ctx, 1); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("decision log %s: %w", redactDSN(target), err)
	}
	return s, nil
}

// checkpointWAL copies what it can of the SQLite WAL into the database
// without waiting for (or blocking) the writer or readers.
func (s *Store) checkpointWAL(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
	return err
}

// redactDSN drops a password from a DSN for messages.
func redactDSN(target string) string {
	if i := strings.Index(target, "://"); i >= 0 {
		if at := strings.Index(target, "@"); at > i {
			cred := target[i+3 : at]
			if user, _, ok := strings.Cut(cred, ":"); ok {
				return target[:i+3] + user + ":***" + target[at:]
			}
		}
	}
	return target
}

// Close closes the database.
func (s *Store) Close() error {
	s.insertsMu.Lock()
	for _, st := range s.inserts {
		st.Close()
	}
	s.insertsMu.Unlock()
	return s.db.Close()
}

// Target is the file or DSN the store is at (for messages).
func (s *Store) Target() string { return redactDSN(s.target) }

func (s *Store) migrate(ctx context.Context) error {
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS microguard_decisions (
			replica TEXT NOT NULL, seq BIGINT NOT NULL, time TEXT NOT NULL, uid TEXT NOT NULL,
			namespace TEXT NOT NULL, allowed INTEGER NOT NULL, policies TEXT NOT NULL, record TEXT NOT NULL,
			PRIMARY KEY (replica, seq))`,
		`CREATE INDEX IF NOT EXISTS microguard_decisions_time ON microguard_decisions (time)`,
		`CREATE TABLE IF NOT EXISTS microguard_checkpoints (
			replica TEXT NOT NULL, seq BIGINT NOT NULL, head TEXT NOT NULL, time TEXT NOT NULL,
			pruned INTEGER NOT NULL, key_id TEXT NOT NULL, signature TEXT NOT NULL,
			PRIMARY KEY (replica, seq))`,
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("creating tables: %w", err)
		}
	}
	return nil
}

// q rewrites ? placeholders as $n for PostgreSQL.
func (s *Store) q(query string) string {
	if !s.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// head is the last link of a replica's chain.
type head struct {
	seq  int64
	hash string
}

// head reads where the replica's chain ends: its last record, else the
// checkpoint its pruned prefix left, else the genesis.
func (s *Store) head(ctx context.Context, replica string) (head, error) {
	var raw string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT record FROM microguard_decisions WHERE replica = ? ORDER BY seq DESC LIMIT 1`), replica).Scan(&raw)
	switch {
	case err == nil:
		var r Record
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			return head{}, fmt.Errorf("last record of replica %s: %w", replica, err)
		}
		return head{r.Seq, r.Hash}, nil
	case !errors.Is(err, sql.ErrNoRows):
		return head{}, err
	}
	var h head
	err = s.db.QueryRowContext(ctx, s.q(`SELECT seq, head FROM microguard_checkpoints WHERE replica = ? AND pruned = 1 ORDER BY seq DESC LIMIT 1`), replica).Scan(&h.seq, &h.hash)
	if errors.Is(err, sql.ErrNoRows) {
		return head{0, Genesis}, nil
	}
	return h, err
}

// row is a sealed record ready to insert.
type row struct {
	r   *Record
	raw []byte
}

func policiesOf(r *Record) string {
	var b strings.Builder
	b.WriteString(",")
	for _, v := range r.Violations {
		b.WriteString(v.Policy + ",")
	}
	return b.String()
}

// perStmt is how many records one INSERT statement carries.
const perStmt = 64

// insert writes rows atomically: one multi-row statement (a transaction
// of its own) when they fit, else a transaction of several.
func (s *Store) insert(ctx context.Context, rows []row) error {
	if len(rows) <= preparedRows {
		st, err := s.prepared(ctx, len(rows))
		if err != nil {
			return err
		}
		_, err = st.ExecContext(ctx, insertArgs(rows)...)
		return err
	}
	if len(rows) <= perStmt {
		_, err := s.db.ExecContext(ctx, s.insertQuery(len(rows)), insertArgs(rows)...)
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	for len(rows) > 0 {
		chunk := rows[:min(perStmt, len(rows))]
		rows = rows[len(chunk):]
		if _, err := tx.ExecContext(ctx, s.insertQuery(len(chunk)), insertArgs(chunk)...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// preparedRows is the largest insert kept prepared: the group commits of
// a busy webhook (a few records each), not parsed again each time.
const preparedRows = 16

// prepared is the prepared insert of n rows.
func (s *Store) prepared(ctx context.Context, n int) (*sql.Stmt, error) {
	s.insertsMu.Lock()
	defer s.insertsMu.Unlock()
	if st, ok := s.inserts[n]; ok {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, s.insertQuery(n))
	if err != nil {
		return nil, err
	}
	if s.inserts == nil {
		s.inserts = map[int]*sql.Stmt{}
	}
	s.inserts[n] = st
	return st, nil
}

// insertArgs are the values of rows for insertQuery(len(rows)) (a prepared
// insert takes them alone).
func insertArgs(rows []row) []any {
	args := make([]any, 0, 8*len(rows))
	for _, rw := range rows {
		allowed := 0
		if rw.r.Allowed {
			allowed = 1
		}
		args = append(args, rw.r.Replica, rw.r.Seq, rw.r.Time, rw.r.UID, rw.r.Namespace, allowed, policiesOf(rw.r), string(rw.raw))
	}
	return args
}

// insertQuery is the INSERT of n rows.
func (s *Store) insertQuery(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO microguard_decisions (replica, seq, time, uid, namespace, allowed, policies, record) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
	}
	return s.q(b.String())
}

// Filter selects records for export.
type Filter struct {
	Since, Until time.Time // zero: unbounded
	Namespace    string
	Allowed      *bool
	Policy       string
}

// Filtered reports whether the filter leaves records out.
func (f Filter) Filtered() bool {
	return !f.Since.IsZero() || !f.Until.IsZero() || f.Namespace != "" || f.Allowed != nil || f.Policy != ""
}

// Records calls fn with each stored record that passes the filter, in time
// order (then replica and sequence), as stored.
func (s *Store) Records(ctx context.Context, f Filter, fn func(raw []byte) error) error {
	query := `SELECT record FROM microguard_decisions WHERE 1 = 1`
	var args []any
	if !f.Since.IsZero() {
		query += ` AND time >= ?`
		args = append(args, f.Since.UTC().Format(TimeFormat))
	}
	if !f.Until.IsZero() {
		query += ` AND time < ?`
		args = append(args, f.Until.UTC().Format(TimeFormat))
	}
	if f.Namespace != "" {
		query += ` AND namespace = ?`
		args = append(args, f.Namespace)
	}
	if f.Allowed != nil {
		query += ` AND allowed = ?`
		a := 0
		if *f.Allowed {
			a = 1
		}
		args = append(args, a)
	}
	if f.Policy != "" {
		query += ` AND policies LIKE ?`
		args = append(args, "%,"+f.Policy+",%")
	}
	query += ` ORDER BY time, replica, seq`
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return err
		}
		if err := fn([]byte(raw)); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Checkpoints are every stored checkpoint, by replica and sequence.
func (s *Store) Checkpoints(ctx context.Context) ([]Checkpoint, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT replica, seq, head, time, pruned, key_id, signature FROM microguard_checkpoints ORDER BY replica, seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Checkpoint
	for rows.Next() {
		var c Checkpoint
		var pruned int
		if err := rows.Scan(&c.Replica, &c.Seq, &c.Head, &c.Time, &pruned, &c.KeyID, &c.Signature); err != nil {
			return nil, err
		}
		c.Pruned = pruned == 1
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *Store) putCheckpoint(ctx context.Context, c Checkpoint) error {
	pruned := 0
	if c.Pruned {
		pruned = 1
	}
	upsert := `INSERT INTO microguard_checkpoints (replica, seq, head, time, pruned, key_id, signature) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (replica, seq) DO UPDATE SET pruned = excluded.pruned, time = excluded.time, key_id = excluded.key_id, signature = excluded.signature`
	_, err := s.db.ExecContext(ctx, s.q(upsert), c.Replica, c.Seq, c.Head, c.Time, pruned, c.KeyID, c.Signature)
	return err
}

// prune deletes a replica's records up to seq (after a checkpoint there).
func (s *Store) prune(ctx context.Context, replica string, seq int64) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM microguard_decisions WHERE replica = ? AND seq <= ?`), replica, seq)
	return err
}

// recordAt reads one record's hash and time.
func (s *Store) recordAt(ctx context.Context, replica string, seq int64) (*Record, error) {
	var raw string
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT record FROM microguard_decisions WHERE replica = ? AND seq = ?`), replica, seq).Scan(&raw); err != nil {
		return nil, err
	}
	var r Record
	return &r, json.Unmarshal([]byte(raw), &r)
}

// pruneCutoff is the last seq of the replica to prune: records older than
// before (zero: none by age) and all but the newest keep (0: no bound).
func (s *Store) pruneCutoff(ctx context.Context, replica string, h head, before time.Time, keep int64) (int64, error) {
	cut := int64(0)
	if !before.IsZero() {
		var seq sql.NullInt64
		if err := s.db.QueryRowContext(ctx, s.q(`SELECT MAX(seq) FROM microguard_decisions WHERE replica = ? AND time < ?`), replica, before.UTC().Format(TimeFormat)).Scan(&seq); err != nil {
			return 0, err
		}
		if seq.Valid {
			cut = seq.Int64
		}
	}
	if keep > 0 && h.seq-keep > cut {
		cut = h.seq - keep
	}
	return cut, nil
}

// claim makes this process the only writer of the replica's chain until
// release: two writers of one chain would fork it. PostgreSQL holds a
// session advisory lock on the replica name; a SQLite file takes an
// exclusive lock on a file beside it (one writing process per file).
func (s *Store) claim(ctx context.Context, replica string) (release func(), err error) {
	if s.postgres {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("decision log %s: %w", s.Target(), err)
		}
		var ok bool
		if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(hashtext($1))`, "microguard-decisions/"+replica).Scan(&ok); err != nil {
			conn.Close()
			return nil, fmt.Errorf("decision log %s: %w", s.Target(), err)
		}
		if !ok {
			conn.Close()
			return nil, fmt.Errorf("decision log %s: another microguard is writing as replica %q: give each replica its own name (POD_NAME)", s.Target(), replica)
		}
		// Unlocked here, not left to the session's end: closing the
		// connection only returns it to the pool, and the server ends a
		// closed session when it gets to it, so a restart could find the
		// replica still claimed.
		return func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			conn.ExecContext(ctx, `SELECT pg_advisory_unlock(hashtext($1))`, "microguard-decisions/"+replica) //nolint:errcheck // the session's end unlocks it anyway
			conn.Close()
		}, nil
	}
	f, err := os.OpenFile(s.target+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("decision log %s: %w", s.Target(), err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("decision log %s: another microguard process is writing to this file (%v): give each process its own file, or use PostgreSQL for several replicas", s.Target(), err)
	}
	return func() { f.Close() }, nil
}
