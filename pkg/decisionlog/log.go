package decisionlog

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
)

// Options configure a decision log writer.
type Options struct {
	// Replica names this writer's chain (unique among writers to one store).
	Replica string
	// CheckpointInterval is how often the head is checkpointed (default 1m).
	CheckpointInterval time.Duration
	// SigningKey signs checkpoints (nil: unsigned checkpoints).
	SigningKey ed25519.PrivateKey
	// MaxAge and MaxRecords bound what is kept (zero: unbounded).
	MaxAge     time.Duration
	MaxRecords int64
	// MaxBatch bounds a group commit (default 512).
	MaxBatch int
	// MaxLinger bounds how long a group commit waits for records that were
	// begun (Begin) and not yet handed in, when records arrive faster than
	// lingerBelowGap apart (default 1ms; negative: never waits). Below
	// that rate, or with no record begun, it never waits.
	MaxLinger time.Duration
	// Sync is the SQLite sync level, SyncFull (default when empty) or
	// SyncNormal; PostgreSQL commits are durable by its own settings.
	Sync    string
	Log     logr.Logger
	Metrics *Metrics
	now     func() time.Time
	// insert stands in for the store's insert in tests (nil: the store's).
	insert func(ctx context.Context, rows []row) error
}

// Log appends records to a store with group commit: concurrent Appends
// share one transaction, and each returns once its record is committed.
type Log struct {
	store *Store
	o     Options
	in    chan *pending
	stop  chan struct{}
	done  chan struct{}
	// walDone is closed when the WAL checkpointer has stopped (SQLite).
	walDone chan struct{}
	once    sync.Once
	// coming counts the records begun and not ended (Begin, End).
	coming atomic.Int64
	// mu makes Close wait for Appends that are handing in a record, so
	// that none is left in the queue after the writer's last drain.
	mu     sync.RWMutex
	closed bool
	// release gives up the claim on the replica's chain.
	release func()

	// owned by the writer goroutine
	head       head
	lastTime   time.Time
	checkpoint int64 // seq of the last checkpoint
	// stale is set when a commit failed and the store could not say where
	// the chain ends: the next commit reads the head first.
	stale bool
	// gap is the moving average of the time between records handed in,
	// lastGap the latest of them, and lastAt when the last one was.
	gap, lastGap time.Duration
	lastAt       time.Time
}

type pending struct {
	r   *Record
	at  time.Time // handed in
	err chan error
}

// ReplicaName is the default replica name: $POD_NAME, else the host name.
func ReplicaName() string {
	if n := os.Getenv("POD_NAME"); n != "" {
		return n
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "microguard"
}

// Open opens the store at target and starts the writer, continuing the
// replica's chain where it ended.
func Open(ctx context.Context, target string, o Options) (*Log, error) {
	if o.Replica == "" {
		o.Replica = ReplicaName()
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = time.Minute
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 512
	}
	if o.MaxLinger == 0 {
		o.MaxLinger = time.Millisecond
	}
	if o.now == nil {
		o.now = time.Now
	}
	s, err := openStore(ctx, target, o.Sync)
	if err != nil {
		return nil, err
	}
	release, err := s.claim(ctx, o.Replica)
	if err != nil {
		s.Close()
		return nil, err
	}
	h, err := s.head(ctx, o.Replica)
	if err != nil {
		release()
		s.Close()
		return nil, fmt.Errorf("decision log %s: reading the chain of replica %s: %w", s.Target(), o.Replica, err)
	}
	l := &Log{store: s, o: o, in: make(chan *pending, 4096), stop: make(chan struct{}), done: make(chan struct{}), walDone: make(chan struct{}), head: h, checkpoint: h.seq, release: release}
	go l.write()
	if s.postgres {
		close(l.walDone)
	} else {
		go l.checkpointWAL()
	}
	return l, nil
}

// Begin says a record is on its way (a request is being decided): under
// load a group commit waits a little for such records, to share its
// transaction. Every Begin needs an End, once the record was appended or
// will not be.
func (l *Log) Begin() { l.coming.Add(1) }

// End ends what Begin began.
func (l *Log) End() { l.coming.Add(-1) }

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("decision log closed")

// Append seals r into the replica's chain (setting replica, seq, prevHash
// and hash) and returns once it is committed, or with the error that kept
// it from being stored.
func (l *Log) Append(r *Record) error {
	r.Replica = l.o.Replica
	p := &pending{r: r, at: l.o.now(), err: make(chan error, 1)}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	l.in <- p
	l.mu.RUnlock()
	return <-p.err
}

// Close commits what is pending, writes a last checkpoint and closes the
// store.
func (l *Log) Close() error {
	l.once.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		close(l.stop)
	})
	<-l.done
	<-l.walDone
	l.release()
	return l.store.Close()
}

// walInterval is how often the SQLite WAL is copied into the database.
const walInterval = 200 * time.Millisecond

// checkpointWAL copies the SQLite WAL into the database every walInterval,
// beside the writer (a passive checkpoint never blocks it). SQLite would
// otherwise do it inside the commit that fills the WAL past 1,000 pages,
// and every request waiting for that commit would wait for the copy and
// its fsync too: the slowest answers under steady load.
func (l *Log) checkpointWAL() {
	defer close(l.walDone)
	tick := time.NewTicker(walInterval)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
			if err := l.store.checkpointWAL(ctx); err != nil {
				l.o.Log.V(1).Info("decision log WAL checkpoint failed; the next one retries", "error", err.Error())
			}
			cancel()
		}
	}
}

// QueueDepth is how many records wait for the next group commit.
func (l *Log) QueueDepth() int { return len(l.in) }

// Store is the log's store (for export and verify).
func (l *Log) Store() *Store { return l.store }

func (l *Log) write() {
	defer close(l.done)
	tick := time.NewTicker(l.o.CheckpointInterval)
	defer tick.Stop()
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	batch := make([]*pending, 0, l.o.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case p := <-l.in:
			batch = append(batch, l.arrived(p))
		case <-tick.C:
			l.maintain()
			continue
		case <-l.stop:
			for {
				select {
				case p := <-l.in:
					batch = append(batch, p)
					continue
				default:
				}
				break
			}
			if len(batch) > 0 {
				l.commit(batch)
			}
			l.checkpointHead()
			return
		}
		// Group commit: everything that queued while the last commit ran.
	drain:
		for len(batch) < l.o.MaxBatch {
			select {
			case p := <-l.in:
				batch = append(batch, l.arrived(p))
			default:
				break drain
			}
		}
		// Under heavy load, wait a little for the records begun and not
		// handed in yet: a commit's cost is mostly per transaction (locks,
		// WAL frames, syscalls), so sharing it is what lets the log keep
		// up.
		if wait := l.lingerFor(); wait > 0 && l.awaited(batch) {
			linger.Reset(wait)
		more:
			for l.awaited(batch) {
				select {
				case p := <-l.in:
					batch = append(batch, l.arrived(p))
				case <-linger.C:
					break more
				case <-l.stop:
					break more
				}
			}
			linger.Stop()
		}
		l.commit(batch)
	}
}

// awaited reports whether the batch has room and records begun are not
// in it yet.
func (l *Log) awaited(batch []*pending) bool {
	return len(batch) < l.o.MaxBatch && int(l.coming.Load()) > len(batch)
}

// lingerBelowGap is the arrival gap below which a group commit waits for
// more records (2,000 records a second and more): at lower rates a record
// is committed as soon as it comes, and the log adds no wait to an answer.
const lingerBelowGap = 500 * time.Microsecond

// arrived notes when p was handed in, for the moving average of the gap.
func (l *Log) arrived(p *pending) *pending {
	if !l.lastAt.IsZero() {
		gap := max(p.at.Sub(l.lastAt), 0)
		l.lastGap = gap
		if l.gap == 0 {
			l.gap = gap
		} else {
			l.gap += (gap - l.gap) / 8
		}
	}
	l.lastAt = p.at
	return p
}

// lingerFor is how long the next commit waits for more records: four
// average gaps, at most MaxLinger, and only while records come faster than
// lingerBelowGap apart (on average and the latest one: after a pause, the
// first record does not wait).
func (l *Log) lingerFor() time.Duration {
	if l.o.MaxLinger < 0 || l.gap <= 0 || l.gap >= lingerBelowGap || l.lastGap >= lingerBelowGap {
		return 0
	}
	return min(4*l.gap, l.o.MaxLinger)
}

// commitTimeout bounds one group commit: a store that hangs fails the
// batch (and onFailure decides) instead of holding the webhook.
const commitTimeout = 3 * time.Second

func (l *Log) commit(batch []*pending) {
	start := l.o.now()
	var err error
	if l.stale {
		_, err = l.resync(head{})
	}
	h := l.head
	rows := make([]row, 0, len(batch))
	// Times are taken here, in chain order, and never go back, so that an
	// export in time order lists each replica's records in sequence.
	now := start.UTC()
	if now.Before(l.lastTime) {
		now = l.lastTime
	}
	for _, p := range batch {
		if err != nil {
			break
		}
		p.r.Time = now.Format(TimeFormat)
		var raw []byte
		if raw, err = seal(p.r, h.seq+1, h.hash); err != nil {
			break
		}
		rows = append(rows, row{p.r, raw})
		h = head{p.r.Seq, p.r.Hash}
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
		insert := l.store.insert
		if l.o.insert != nil {
			insert = l.o.insert
		}
		if err = insert(ctx, rows); err != nil {
			// A failed insert may still have committed (the deadline
			// passed while the store committed): the store says where
			// the chain ends, and the batch is committed if it ends here.
			if committed, rerr := l.resync(h); rerr == nil && committed {
				l.o.Log.Info("decision log commit reported an error but the records are stored", "error", err.Error(), "seq", h.seq)
				err = nil
			}
		}
		cancel()
	}
	if err != nil {
		err = fmt.Errorf("decision log %s: %w", l.store.Target(), err)
	} else {
		l.head, l.lastTime = h, now
	}
	l.o.Metrics.commit(len(batch), l.o.now().Sub(start), err)
	for _, p := range batch {
		p.err <- err
	}
}

// resync reads where the replica's chain ends in the store and continues
// from there; committed reports whether it ends at want.
func (l *Log) resync(want head) (committed bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	h, err := l.store.head(ctx, l.o.Replica)
	if err != nil {
		l.stale = true
		return false, fmt.Errorf("reading where the chain ends after a failed commit: %w", err)
	}
	l.stale = false
	l.head = h
	return h == want, nil
}

// maintain checkpoints the head and applies retention.
func (l *Log) maintain() {
	l.checkpointHead()
	if l.o.MaxAge <= 0 && l.o.MaxRecords <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var before time.Time
	if l.o.MaxAge > 0 {
		before = l.o.now().Add(-l.o.MaxAge)
	}
	if err := l.prune(ctx, before, l.o.MaxRecords); err != nil {
		l.o.Log.Error(err, "applying decision log retention")
	}
}

// checkpointHead records the head when it moved since the last checkpoint.
func (l *Log) checkpointHead() {
	if l.head.seq == l.checkpoint || l.head.seq == 0 {
		return
	}
	c := Checkpoint{Replica: l.o.Replica, Seq: l.head.seq, Head: l.head.hash, Time: l.o.now().UTC().Format(TimeFormat)}
	c.sign(l.o.SigningKey)
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	if err := l.store.putCheckpoint(ctx, c); err != nil {
		l.o.Log.Error(err, "writing decision log checkpoint", "seq", c.Seq)
		return
	}
	l.checkpoint = c.Seq
}

// prune deletes the records retention no longer keeps, after a (signed)
// checkpoint at the last of them, so that the chain still verifies from
// there.
func (l *Log) prune(ctx context.Context, before time.Time, keep int64) error {
	cut, err := l.store.pruneCutoff(ctx, l.o.Replica, l.head, before, keep)
	if err != nil || cut <= 0 {
		return err
	}
	last, err := l.store.recordAt(ctx, l.o.Replica, cut)
	if err != nil {
		return fmt.Errorf("reading record %d: %w", cut, err)
	}
	c := Checkpoint{Replica: l.o.Replica, Seq: cut, Head: last.Hash, Time: l.o.now().UTC().Format(TimeFormat), Pruned: true}
	c.sign(l.o.SigningKey)
	if err := l.store.putCheckpoint(ctx, c); err != nil {
		return err
	}
	return l.store.prune(ctx, l.o.Replica, cut)
}
