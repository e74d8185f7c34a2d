package decisionlog

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"sort"
)

// Problem is one thing wrong with a log: where, and what.
type Problem struct {
	Line    int    `json:"line"` // line of the export (0: not tied to a line)
	Replica string `json:"replica"`
	Seq     int64  `json:"seq"`
	UID     string `json:"uid,omitempty"`
	What    string `json:"what"`
}

func (p Problem) String() string {
	loc := fmt.Sprintf("replica %s seq %d", p.Replica, p.Seq)
	if p.UID != "" {
		loc += " (uid " + p.UID + ")"
	}
	if p.Line > 0 {
		loc = fmt.Sprintf("line %d: %s", p.Line, loc)
	}
	return loc + ": " + p.What
}

// Report is the result of verifying a log or an export.
type Report struct {
	Records     int
	Replicas    int
	Checkpoints int
	Signed      int // checkpoints whose signature verified
	Filtered    bool
	Problems    []Problem
}

// OK reports whether nothing was wrong.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

type gap struct {
	from, to int64
	problem  int // index of the problem that reported it
}

type chain struct {
	gaps     []gap
	seqAt    map[int]int64
	started  bool
	lastSeq  int64
	lastHash string
	hashes   map[int64]string
	first    int64
}

// VerifyJSONL checks an export: every record's hash against its content,
// and, unless the export was filtered, that each replica's records form an
// unbroken chain from its start (or its last pruning checkpoint) with no
// record missing, reordered or cut off before a checkpoint. With pub,
// checkpoints must carry a valid signature by it.
func VerifyJSONL(r io.Reader, pub ed25519.PublicKey) (*Report, error) {
	rep := &Report{}
	chains := map[string]*chain{}
	var cps []Checkpoint
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var probe struct {
			Export     json.RawMessage `json:"export"`
			Checkpoint *Checkpoint     `json:"checkpoint"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil {
			rep.Problems = append(rep.Problems, Problem{Line: line, What: fmt.Sprintf("not a JSON object: %v", err)})
			continue
		}
		switch {
		case probe.Export != nil:
			var h Header
			if err := json.Unmarshal(raw, &h); err == nil {
				rep.Filtered = h.Export.Filtered
			}
			continue
		case probe.Checkpoint != nil:
			cps = append(cps, *probe.Checkpoint)
			continue
		}
		rec, ok, err := Check(raw)
		if err != nil {
			rep.Problems = append(rep.Problems, Problem{Line: line, What: fmt.Sprintf("not a decision record: %v", err)})
			continue
		}
		rep.Records++
		p := Problem{Line: line, Replica: rec.Replica, Seq: rec.Seq, UID: rec.UID}
		if !ok {
			rep.Problems = append(rep.Problems, with(p, "edited: the record's hash does not match its content"))
		}
		c := chains[rec.Replica]
		if c == nil {
			c = &chain{hashes: map[int64]string{}, seqAt: map[int]int64{}}
			chains[rec.Replica] = c
		}
		c.hashes[rec.Seq] = rec.Hash
		if !c.started {
			c.started, c.first = true, rec.Seq
		} else {
			switch {
			case rec.Seq <= c.lastSeq:
				rep.Problems = append(rep.Problems, with(p, fmt.Sprintf("out of order: seq %d comes after seq %d (reordered or duplicated)", rec.Seq, c.lastSeq)))
				// The gap reported where it went missing was a move, not a removal.
				for _, g := range c.gaps {
					if g.from <= rec.Seq && rec.Seq <= g.to {
						rep.Problems[g.problem].What = fmt.Sprintf("out of order: seq %d comes before seq %d, which appears later at line %d (reordered)", c.seqAt[g.problem], rec.Seq, line)
					}
				}
				continue
			case rec.Seq == c.lastSeq+1:
				if rec.PrevHash != c.lastHash {
					rep.Problems = append(rep.Problems, with(p, "does not chain to the record before it (prevHash differs from that record's hash)"))
				}
			case !rep.Filtered:
				c.gaps = append(c.gaps, gap{from: c.lastSeq + 1, to: rec.Seq - 1, problem: len(rep.Problems)})
				c.seqAt[len(rep.Problems)] = rec.Seq
				rep.Problems = append(rep.Problems, with(p, fmt.Sprintf("records %d to %d are missing before it (removed)", c.lastSeq+1, rec.Seq-1)))
			}
		}
		c.lastSeq, c.lastHash = rec.Seq, rec.Hash
		if c.first == rec.Seq {
			c.firstPrev(rec.PrevHash)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading export: %w", err)
	}
	rep.Replicas = len(chains)
	rep.Checkpoints = len(cps)
	checkCheckpoints(rep, chains, cps, pub)
	sort.SliceStable(rep.Problems, func(i, j int) bool { return rep.Problems[i].Line < rep.Problems[j].Line })
	return rep, nil
}

// firstPrev remembers the prevHash of a replica's first record (to check
// where the chain starts).
func (c *chain) firstPrev(prev string) { c.hashes[c.first-1] = prev }

func with(p Problem, what string) Problem {
	p.What = what
	return p
}

func checkCheckpoints(rep *Report, chains map[string]*chain, cps []Checkpoint, pub ed25519.PublicKey) {
	pruned := map[string]Checkpoint{}
	for _, c := range cps {
		if pub != nil {
			if err := c.Verify(pub); err != nil {
				rep.Problems = append(rep.Problems, Problem{Replica: c.Replica, Seq: c.Seq, What: "checkpoint " + err.Error()})
			} else {
				rep.Signed++
			}
		}
		if c.Pruned && c.Seq >= pruned[c.Replica].Seq {
			pruned[c.Replica] = c
		}
	}
	if rep.Filtered {
		return
	}
	// Where each chain must start: after its last pruning checkpoint, else
	// at seq 1 from the genesis.
	for name, ch := range chains {
		wantSeq, wantPrev := int64(1), Genesis
		if cp, ok := pruned[name]; ok {
			wantSeq, wantPrev = cp.Seq+1, cp.Head
		}
		got := ch.hashes[ch.first-1]
		switch {
		case ch.first > wantSeq:
			rep.Problems = append(rep.Problems, Problem{Replica: name, Seq: ch.first, What: fmt.Sprintf("records %d to %d are missing from the start of the log (removed; no pruning checkpoint covers them)", wantSeq, ch.first-1)})
		case ch.first == wantSeq && got != wantPrev:
			rep.Problems = append(rep.Problems, Problem{Replica: name, Seq: ch.first, What: "the first record does not chain to the log's start (genesis or pruning checkpoint)"})
		}
	}
	for _, c := range cps {
		ch := chains[c.Replica]
		if ch == nil {
			if pruned[c.Replica].Seq < c.Seq || !c.Pruned && pruned[c.Replica].Seq != c.Seq {
				rep.Problems = append(rep.Problems, Problem{Replica: c.Replica, Seq: c.Seq, What: fmt.Sprintf("truncated: a checkpoint at %s fixes seq %d, and the log has no record of this replica", c.Time, c.Seq)})
			}
			continue
		}
		if c.Seq > ch.lastSeq {
			rep.Problems = append(rep.Problems, Problem{Replica: c.Replica, Seq: c.Seq, What: fmt.Sprintf("truncated: a checkpoint at %s fixes seq %d, but the log ends at seq %d", c.Time, c.Seq, ch.lastSeq)})
			continue
		}
		if h, ok := ch.hashes[c.Seq]; ok && h != c.Head {
			rep.Problems = append(rep.Problems, Problem{Replica: c.Replica, Seq: c.Seq, What: fmt.Sprintf("the record differs from the checkpoint at %s (the chain was rewritten)", c.Time)})
		}
	}
}

// VerifyStore verifies a store as a full export of it.
func VerifyStore(ctx context.Context, s *Store, pub ed25519.PublicKey) (*Report, error) {
	pr, pw := io.Pipe()
	go func() {
		_, err := ExportJSONL(ctx, s, Filter{}, pw)
		pw.CloseWithError(err)
	}()
	return VerifyJSONL(pr, pub)
}
