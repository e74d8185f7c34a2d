package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"gomodules.xyz/jsonpatch/v2"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/microguard/microguard/pkg/decisionlog"
	"github.com/microguard/microguard/pkg/review"
)

// Recorder writes one decision record per answer before the answer goes
// out. With OnFailure "deny", an answer whose record could not be stored
// becomes a denial; with "allow" it goes out, counted and logged.
type Recorder struct {
	Log       *decisionlog.Log
	OnFailure string
	Redaction decisionlog.Redaction
	Bundle    decisionlog.Bundle
	Metrics   *decisionlog.Metrics
	// current is the bundle after a reload (SetBundle); nil: Bundle.
	current atomic.Pointer[decisionlog.Bundle]
}

// begin says a request is being decided, whose record the decision log's
// group commit may wait for; end, once it is recorded or will not be.
func (rc *Recorder) begin() {
	if rc != nil && rc.Log != nil {
		rc.Log.Begin()
	}
}

func (rc *Recorder) end() {
	if rc != nil && rc.Log != nil {
		rc.Log.End()
	}
}

// record stores the answer resp to req and returns the answer to give.
// Storing it is the "log" span of the request's trace.
func (rc *Recorder) record(ctx context.Context, log logr.Logger, webhook string, req admission.Request, res review.Result, patch []jsonpatch.Operation, resp admission.Response, start time.Time) admission.Response {
	if rc == nil || rc.Log == nil {
		return resp
	}
	span := trace.SpanFromContext(ctx)
	if span.IsRecording() {
		_, span = tracer.Start(ctx, "log")
		defer span.End()
	}
	r := newRecord(webhook, req, res, resp)
	r.Bundle = rc.bundle()
	if len(patch) > 0 {
		r.Patch = patchOps(patch)
		rc.Redaction.Apply(r.Patch)
	}
	r.LatencyMs = float64(time.Since(start).Microseconds()) / 1000
	err := rc.Log.Append(r)
	if err == nil {
		return resp
	}
	if span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, "decision not recorded")
	}
	if rc.OnFailure == "allow" {
		rc.Metrics.Dropped()
		log.Error(err, "decision not recorded; answered anyway (decisionLog.onFailure: allow)", "webhook", webhook, "uid", req.UID, "allowed", resp.Allowed)
		return resp
	}
	log.Error(err, "decision not recorded; request refused (decisionLog.onFailure: deny)", "webhook", webhook, "uid", req.UID)
	return admission.Denied(fmt.Sprintf("microguard's audit log is unavailable, so the request is refused (decisionLog.onFailure: deny): %v", err))
}

func newRecord(webhook string, req admission.Request, res review.Result, resp admission.Response) *decisionlog.Record {
	r := &decisionlog.Record{
		UID:         string(req.UID),
		Webhook:     webhook,
		Operation:   string(req.Operation),
		Kind:        decisionlog.Kind{Group: req.Kind.Group, Version: req.Kind.Version, Kind: req.Kind.Kind},
		Resource:    decisionlog.Resource{Group: req.Resource.Group, Version: req.Resource.Version, Resource: req.Resource.Resource},
		SubResource: req.SubResource,
		Namespace:   req.Namespace,
		Name:        req.Name,
		User:        decisionlog.User{Username: req.UserInfo.Username, Groups: req.UserInfo.Groups},
		DryRun:      req.DryRun != nil && *req.DryRun,
		Allowed:     resp.Allowed,
		Warnings:    resp.Warnings,
	}
	switch {
	case res.Err != nil:
		r.Reason = "not evaluated: " + res.Err.Error()
	case res.Exempt != "":
		r.Reason = "exempt: " + res.Exempt
	}
	for _, v := range res.Violations {
		dv := decisionlog.Violation{Policy: v.Policy, Rule: v.Rule, Action: string(v.Action), Message: v.Message, Field: v.Field}
		if v.Exception != nil {
			dv.Exception = v.Exception.Source
		}
		r.Violations = append(r.Violations, dv)
	}
	for _, im := range res.Images {
		r.Images = append(r.Images, decisionlog.Image{Image: im.Image, Reference: im.Reference, Outcome: im.Outcome})
	}
	return r
}

// patchOps copies the patch, so that redaction never touches the answer's
// own values: scalars stay as they are (their JSON text, when the mutators
// gave that), objects and arrays are decoded afresh, as redaction walks
// them.
func patchOps(ops []jsonpatch.Operation) []decisionlog.PatchOp {
	out := make([]decisionlog.PatchOp, len(ops))
	for i, op := range ops {
		out[i] = decisionlog.PatchOp{Op: op.Operation, Path: op.Path, Value: copyValue(op.Value)}
	}
	return out
}

func copyValue(v any) any {
	switch t := v.(type) {
	case nil, string, bool, float64, int, int64:
		return t
	case json.RawMessage:
		if len(t) > 0 && t[0] != '{' && t[0] != '[' {
			return json.RawMessage(bytes.Clone(t))
		}
		var out any
		if err := json.Unmarshal(t, &out); err != nil {
			return nil
		}
		return out
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil
	}
	return out
}
