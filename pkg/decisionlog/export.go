package decisionlog

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Header is the first line of a JSONL export: what it holds, so that
// verify knows whether records may be missing by design.
type Header struct {
	Export struct {
		Version    int               `json:"version"`
		ExportedAt string            `json:"exportedAt"`
		Filtered   bool              `json:"filtered"`
		Filters    map[string]string `json:"filters,omitempty"`
	} `json:"export"`
}

// checkpointLine is how a checkpoint is written in a JSONL export.
type checkpointLine struct {
	Checkpoint *Checkpoint `json:"checkpoint"`
}

// ExportJSONL writes a header line, every record that passes the filter
// (one JSON object per line, exactly as stored, hash included) and every
// checkpoint of the replicas exported.
func ExportJSONL(ctx context.Context, s *Store, f Filter, w io.Writer) (int, error) {
	bw := bufio.NewWriter(w)
	var h Header
	h.Export.Version = 1
	h.Export.ExportedAt = time.Now().UTC().Format(TimeFormat)
	h.Export.Filtered = f.Filtered()
	h.Export.Filters = f.describe()
	line, err := json.Marshal(h)
	if err != nil {
		return 0, err
	}
	bw.Write(append(line, '\n'))
	n := 0
	replicas := map[string]bool{}
	err = s.Records(ctx, f, func(raw []byte) error {
		var r struct {
			Replica string `json:"replica"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		replicas[r.Replica] = true
		n++
		bw.Write(raw)
		return bw.WriteByte('\n')
	})
	if err != nil {
		return n, err
	}
	cps, err := s.Checkpoints(ctx)
	if err != nil {
		return n, err
	}
	for _, c := range cps {
		if !replicas[c.Replica] && f.Filtered() {
			continue
		}
		line, err := json.Marshal(checkpointLine{&c})
		if err != nil {
			return n, err
		}
		bw.Write(append(line, '\n'))
	}
	return n, bw.Flush()
}

func (f Filter) describe() map[string]string {
	m := map[string]string{}
	if !f.Since.IsZero() {
		m["since"] = f.Since.UTC().Format(time.RFC3339Nano)
	}
	if !f.Until.IsZero() {
		m["until"] = f.Until.UTC().Format(time.RFC3339Nano)
	}
	if f.Namespace != "" {
		m["namespace"] = f.Namespace
	}
	if f.Allowed != nil {
		m["allowed"] = strconv.FormatBool(*f.Allowed)
	}
	if f.Policy != "" {
		m["policy"] = f.Policy
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// CSVHeader are the columns of a CSV export.
var CSVHeader = []string{"time", "uid", "webhook", "operation", "group", "version", "kind", "resource", "subResource",
	"namespace", "name", "user", "dryRun", "allowed", "reason", "violations", "warnings", "patchOps", "images",
	"latencyMs", "replica", "seq", "hash"}

// ExportCSV writes a header row and one row per record that passes the
// filter, with the main fields; violations are "policy/rule" joined by
// "; " and images "image=reference".
func ExportCSV(ctx context.Context, s *Store, f Filter, w io.Writer) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return 0, err
	}
	n := 0
	err := s.Records(ctx, f, func(raw []byte) error {
		var r Record
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		n++
		var vs, imgs []string
		for _, v := range r.Violations {
			vs = append(vs, v.Policy+"/"+v.Rule)
		}
		for _, im := range r.Images {
			imgs = append(imgs, im.Image+"="+im.Reference)
		}
		return cw.Write([]string{r.Time, r.UID, r.Webhook, r.Operation, r.Kind.Group, r.Kind.Version, r.Kind.Kind,
			r.Resource.Resource, r.SubResource, r.Namespace, r.Name, r.User.Username, strconv.FormatBool(r.DryRun),
			strconv.FormatBool(r.Allowed), r.Reason, strings.Join(vs, "; "), strconv.Itoa(len(r.Warnings)),
			strconv.Itoa(len(r.Patch)), strings.Join(imgs, "; "), strconv.FormatFloat(r.LatencyMs, 'f', 3, 64),
			r.Replica, strconv.FormatInt(r.Seq, 10), r.Hash})
	})
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	if err != nil {
		return n, fmt.Errorf("writing CSV: %w", err)
	}
	return n, nil
}
