// Package decisionlog keeps one tamper-evident record per admission answer:
// committed before the answer is written, chained by hash per replica,
// checkpointed (and signed, with a key), exportable and verifiable by an
// auditor without microguard running. SQLite (embedded, one file) and
// PostgreSQL (several replicas) hold the same schema.
package decisionlog

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Record is one admission answer. Its JSON field names are an interface:
// auditors' tools read them.
type Record struct {
	Time        string      `json:"time"` // RFC 3339, UTC, nanoseconds: when the record was committed, just before the answer
	UID         string      `json:"uid"`
	Webhook     string      `json:"webhook"` // mutate or validate
	Operation   string      `json:"operation"`
	Kind        Kind        `json:"kind"`
	Resource    Resource    `json:"resource"`
	SubResource string      `json:"subResource"`
	Namespace   string      `json:"namespace"`
	Name        string      `json:"name"`
	User        User        `json:"user"`
	DryRun      bool        `json:"dryRun"`
	Allowed     bool        `json:"allowed"`
	Reason      string      `json:"reason,omitempty"` // why, when not a policy decision: exempt, error, audit log unavailable
	Violations  []Violation `json:"violations"`
	Warnings    []string    `json:"warnings"`
	Patch       []PatchOp   `json:"patch"`
	Images      []Image     `json:"images"`
	Bundle      Bundle      `json:"bundle"`
	LatencyMs   float64     `json:"latencyMs"`
	Replica     string      `json:"replica"`
	Seq         int64       `json:"seq"`
	PrevHash    string      `json:"prevHash"`
	Hash        string      `json:"hash,omitempty"` // empty only while it is computed
}

// Kind is the group/version/kind of the request.
type Kind struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

// Resource is the group/version/resource of the request.
type Resource struct {
	Group    string `json:"group"`
	Version  string `json:"version"`
	Resource string `json:"resource"`
}

// User is who made the request.
type User struct {
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

// Violation is a policy violation, as the developer saw it.
type Violation struct {
	Policy  string `json:"policy"`
	Rule    string `json:"rule"`
	Action  string `json:"action"`
	Message string `json:"message"`
	Field   string `json:"field"`
	// Exception names the exception that waived it, when one did.
	Exception string `json:"exception,omitempty"`
}

// PatchOp is one JSON patch operation the mutating webhook applied.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// Image is an image of the request and what signature verification found.
type Image struct {
	Image     string `json:"image"`
	Reference string `json:"reference,omitempty"` // repository@sha256:… that was verified
	Outcome   string `json:"outcome"`
}

// Bundle says which policies decided: the embedded bundle's revision and
// the config file's digest.
type Bundle struct {
	Revision string `json:"revision"`
	Config   string `json:"config"`
}

// Genesis is the prevHash of a replica's first record.
var Genesis = hex.EncodeToString(make([]byte, sha256.Size))

// canonical is the record as hashed: RFC 8785 (JCS) canonical JSON of every
// field but hash, so that any tool can recompute it from an export.
func canonical(raw []byte) ([]byte, error) {
	return appendCanonical(nil, raw, "hash")
}

// chainHash is SHA-256(prevHash || canonical record), hex.
func chainHash(prevHash string, canon []byte) string {
	h := sha256.New()
	h.Write([]byte(prevHash))
	h.Write(canon)
	return hex.EncodeToString(h.Sum(nil))
}

// seal sets seq, prevHash and hash and returns the record's stored JSON.
//
// The hash covers the canonical form, written straight from r
// (appendRecordJCS: the same bytes canonical makes of r's JSON, without
// encoding and parsing it). The stored form is that canonical form with the
// hash member in its place (between dryRun and images): the RFC 8785 form
// of the whole record, which decodes to r. Check recomputes the hash from
// whatever form is stored, so records written before (json.Marshal's
// encoding with the hash appended) verify the same way.
func seal(r *Record, seq int64, prev string) ([]byte, error) {
	r.Seq, r.PrevHash, r.Hash = seq, prev, ""
	if r.Violations == nil {
		r.Violations = []Violation{}
	}
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	if r.Patch == nil {
		r.Patch = []PatchOp{}
	}
	if r.Images == nil {
		r.Images = []Image{}
	}
	if r.User.Groups == nil {
		r.User.Groups = []string{}
	}
	// buf is prevHash || canonical record, the hash's input, with room
	// for the hash member.
	buf := make([]byte, 0, len(prev)+recordSizeHint(r)+len(hashMember)+sha256.Size*2)
	buf = append(buf, prev...)
	buf, at, err := appendRecordJCS(buf, r)
	if err != nil {
		return nil, fmt.Errorf("encoding record: %w", err)
	}
	sum := sha256.Sum256(buf)
	out := buf[len(prev):]
	at -= len(prev)
	// Insert "hash":"<hex>", at its place.
	n := len(hashMember) + sha256.Size*2
	out = append(out, make([]byte, n)...)
	copy(out[at+n:], out[at:len(out)-n])
	copy(out[at:], hashMember[:8]) // "hash":"
	hex.Encode(out[at+8:], sum[:])
	copy(out[at+8+sha256.Size*2:], hashMember[8:]) // ",
	r.Hash = string(out[at+8 : at+8+sha256.Size*2])
	return out, nil
}

// hashMember is the stored hash member around the hash's hex digits.
const hashMember = `"hash":"",`

// Check recomputes a stored record's hash; it returns the record and
// whether the hash matches its content.
func Check(raw []byte) (*Record, bool, error) {
	var r Record
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, false, err
	}
	canon, err := canonical(raw)
	if err != nil {
		return nil, false, err
	}
	return &r, chainHash(r.PrevHash, canon) == r.Hash, nil
}
