package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/microguard/microguard/pkg/check"
	"github.com/microguard/microguard/pkg/config"
	"github.com/microguard/microguard/pkg/decisionlog"
	"github.com/microguard/microguard/pkg/server"
)

// openRecorder opens the decision log at target as cfg configures it.
func openRecorder(ctx context.Context, target string, cfg *config.Config, revision string, log logr.Logger, m *decisionlog.Metrics) (*server.Recorder, error) {
	dc := cfg.DecisionLog
	o := decisionlog.Options{
		CheckpointInterval: dc.CheckpointInterval, MaxAge: dc.MaxAge, MaxRecords: dc.MaxRecords,
		Sync: dc.SQLiteSync, Log: log, Metrics: m,
	}
	if dc.SigningKey != "" {
		key, err := decisionlog.LoadSigningKey(dc.SigningKey)
		if err != nil {
			return nil, cfg.Errorf("decisionLog.signingKey", "%s: %v (an Ed25519 private key in PEM, e.g. from openssl genpkey -algorithm ed25519)", dc.SigningKey, err)
		}
		o.SigningKey = key
	}
	l, err := decisionlog.Open(ctx, target, o)
	if err != nil {
		return nil, err
	}
	compile := func(ss []string) []*regexp.Regexp {
		out := make([]*regexp.Regexp, len(ss))
		for i, s := range ss {
			out[i] = regexp.MustCompile(s) // checked when the config was read
		}
		return out
	}
	return &server.Recorder{
		Log:       l,
		OnFailure: dc.OnFailure,
		Redaction: decisionlog.Redaction{EnvNames: compile(dc.Redact.EnvNames), SecretNames: compile(dc.Redact.SecretNames), Annotations: compile(dc.Redact.Annotations)},
		Bundle:    decisionlog.Bundle{Revision: revision, Config: cfg.Digest},
		Metrics:   m,
	}, nil
}

func newDecisions(stdout io.Writer) *cobra.Command {
	c := &cobra.Command{Use: "decisions", Short: "Export and verify the decision log (the auditor's tools)"}
	c.AddCommand(newExport(stdout), newVerify(stdout))
	return c
}

// parseTime reads an RFC 3339 time or a duration before now (24h).
func parseTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return time.Now().Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--%s %q: want an RFC 3339 time (2026-11-29T08:00:00Z) or a duration before now (24h)", flag, s)
}

func newExport(stdout io.Writer) *cobra.Command {
	var target, since, until, namespace, allowed, policyID, format, out string
	c := &cobra.Command{
		Use:   "export",
		Short: "Export decisions as JSONL (every field, hashes included) or CSV; works on a stopped or killed server's log",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			f := decisionlog.Filter{Namespace: namespace, Policy: policyID}
			var err error
			if f.Since, err = parseTime("since", since); err != nil {
				return err
			}
			if f.Until, err = parseTime("until", until); err != nil {
				return err
			}
			if allowed != "" {
				b, err := strconv.ParseBool(allowed)
				if err != nil {
					return fmt.Errorf("--allowed %q: want true or false", allowed)
				}
				f.Allowed = &b
			}
			if format != "jsonl" && format != "csv" {
				return fmt.Errorf("--format %q: want jsonl or csv", format)
			}
			s, err := openExisting(c.Context(), target)
			if err != nil {
				return err
			}
			defer s.Close()
			w := stdout
			if out != "" && out != "-" {
				file, err := os.Create(out)
				if err != nil {
					return err
				}
				defer file.Close()
				w = file
			}
			if format == "csv" {
				_, err = decisionlog.ExportCSV(c.Context(), s, f, w)
			} else {
				_, err = decisionlog.ExportJSONL(c.Context(), s, f, w)
			}
			if err != nil {
				return err
			}
			if file, ok := w.(*os.File); ok && file != os.Stdout {
				return file.Sync()
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&target, "decision-log", "", "the decision log: SQLite file or directory, or postgres:// DSN")
	fl.StringVar(&since, "since", "", "only decisions at or after this time (RFC 3339, or a duration before now such as 24h)")
	fl.StringVar(&until, "until", "", "only decisions before this time (RFC 3339, or a duration before now)")
	fl.StringVar(&namespace, "namespace", "", "only decisions in this namespace")
	fl.StringVar(&allowed, "allowed", "", "only allowed (true) or refused (false) decisions")
	fl.StringVar(&policyID, "policy", "", "only decisions with a violation of this policy")
	fl.StringVar(&format, "format", "jsonl", "jsonl or csv")
	fl.StringVarP(&out, "output", "o", "", "write to this file (default: stdout)")
	_ = c.MarkFlagRequired("decision-log")
	return c
}

// openExisting opens a store for reading, refusing a SQLite path that does
// not exist (rather than creating an empty log and finding nothing wrong).
func openExisting(ctx context.Context, target string) (*decisionlog.Store, error) {
	if !decisionlog.IsPostgres(target) {
		if _, err := os.Stat(target); err != nil {
			return nil, fmt.Errorf("decision log %s: %w", target, err)
		}
	}
	return decisionlog.OpenStore(ctx, target)
}

func newVerify(stdout io.Writer) *cobra.Command {
	var file, target, keyPath string
	c := &cobra.Command{
		Use:   "verify",
		Short: "Verify an export (-f) or the live log (--decision-log): exit 0 intact, 1 tampered (names the first bad record), 2 unreadable",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if (file == "") == (target == "") {
				return errors.New("give one of -f EXPORT.jsonl or --decision-log PATH|DSN")
			}
			var pub ed25519.PublicKey
			if keyPath != "" {
				var err error
				if pub, err = decisionlog.LoadPublicKey(keyPath); err != nil {
					return fmt.Errorf("--public-key %s: %w", keyPath, err)
				}
			}
			var rep *decisionlog.Report
			var err error
			if file != "" {
				var r io.ReadCloser = os.Stdin
				if file != "-" {
					if r, err = os.Open(file); err != nil {
						return err
					}
				}
				defer r.Close()
				rep, err = decisionlog.VerifyJSONL(r, pub)
			} else {
				s, err2 := openExisting(c.Context(), target)
				if err2 != nil {
					return err2
				}
				defer s.Close()
				rep, err = decisionlog.VerifyStore(c.Context(), s, pub)
			}
			if err != nil {
				return err
			}
			kind := "complete"
			if rep.Filtered {
				kind = "filtered (each record checked; gaps between them are expected)"
			}
			signed := "checkpoint signatures not checked (no --public-key)"
			if pub != nil {
				signed = fmt.Sprintf("%d signed checkpoints verified", rep.Signed)
			}
			if rep.OK() {
				fmt.Fprintf(stdout, "OK: %d records from %d replicas, %d checkpoints, %s; export is %s\n", rep.Records, rep.Replicas, rep.Checkpoints, signed, kind)
				return nil
			}
			fmt.Fprintf(stdout, "TAMPERED: %d problems in %d records (%s); first: %s\n", len(rep.Problems), rep.Records, kind, rep.Problems[0])
			for _, p := range rep.Problems[1:] {
				fmt.Fprintf(stdout, "  %s\n", p)
			}
			return exitError{check.ExitDenied}
		},
	}
	fl := c.Flags()
	fl.StringVarP(&file, "filename", "f", "", "a JSONL export (- for stdin)")
	fl.StringVar(&target, "decision-log", "", "verify the live log instead: SQLite file or directory, or postgres:// DSN")
	fl.StringVar(&keyPath, "public-key", "", "Ed25519 public key (PEM) that must have signed every checkpoint")
	return c
}
