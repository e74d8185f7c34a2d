// Package config reads microguard's one versioned YAML configuration file and
// validates it at start: an unknown key or a bad value is an error that names
// the file, line and key at fault.
package config

import (
	"crypto/sha256"
	"path/filepath"

	"encoding/hex"
	"fmt"
	"gopkg.in/yaml.v3"
	"os"
	"slices"
	"strings"
	"time"
)

// APIVersion is the only configuration version this release reads. A file
// that omits apiVersion is read as this version.
const APIVersion = "microguard.io/v1alpha1"

// Action says what a policy violation does to the request.
type Action string

// The actions a policy can take.
const (
	// Deny refuses the request.
	Deny Action = "deny"
	// Warn admits the request with AdmissionResponse warnings.
	Warn Action = "warn"
	// Audit admits the request and only records the violation.
	Audit Action = "audit"
	// Off disables the policy.
	Off Action = "off"
)

var actions = []Action{Deny, Warn, Audit, Off}

// Config is a validated configuration. Options hold every option the policy
// or mutation declares, with defaults filled in.
type Config struct {
	Policies   map[string]Policy
	Mutations  map[string]Mutation
	Exemptions Exemptions
	// Exceptions waive violations for a while, with a reason.
	Exceptions []Exception
	// CustomPolicies is a directory of the admin's own Rego policies, loaded
	// next to the embedded bundle ("" for none).
	CustomPolicies string
	// Warnings are accepted oddities worth logging, such as a disabled policy
	// this release does not implement.
	Warnings []string
	// Digest is the SHA-256 of the file the config was read from ("" for the
	// built-in defaults).
	Digest string
	// DecisionLog configures the audit log of admission answers.
	DecisionLog DecisionLog
	// File is the file the config was read from ("" for the defaults).
	File string
	// lines are the lines of option values and of everything inside them.
	lines map[string]int
}

// Errorf is an error at key (a dotted path such as
// policies.image-signature.rules[0].keys[1]) found after reading, by the
// owner of an option: it names the file and the line of that key, or of
// the nearest enclosing key the file has.
func (c *Config) Errorf(key, format string, args ...any) error {
	line := 0
	for k := key; k != "" && line == 0; {
		line = c.lines[k]
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return &Error{File: c.File, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Policy is the configuration of one validating policy.
type Policy struct {
	Action  Action
	Options map[string]any
}

// Mutation is the configuration of one mutator.
type Mutation struct {
	Enabled bool
	Options map[string]any
}

// DecisionLog configures the decision log (where it is stored is the
// --decision-log flag).
type DecisionLog struct {
	// OnFailure is what a request gets when its record cannot be stored:
	// "deny" (fail closed) or "allow" (counted and logged).
	OnFailure string
	// CheckpointInterval is how often the chain head is checkpointed.
	CheckpointInterval time.Duration
	// SigningKey is an Ed25519 private key (PEM, PKCS #8) that signs
	// checkpoints ("" for unsigned checkpoints).
	SigningKey string
	// MaxAge and MaxRecords bound what is kept (0: unbounded).
	MaxAge     time.Duration
	MaxRecords int64
	// SQLiteSync is "normal" (the default: a record is in the WAL before
	// the answer, which survives the process dying but not power loss) or
	// "full" (on disk before the answer, at about 2 ms more p99).
	SQLiteSync string
	// Redact are regular expressions: env vars, Secrets and annotations
	// whose names match have their values (or names) redacted in records.
	Redact Redact
}

// Redact lists what decision records never hold.
type Redact struct {
	EnvNames    []string
	SecretNames []string
	Annotations []string
}

// DefaultDecisionLog is the decision log configuration of a config that
// says nothing about it.
func DefaultDecisionLog() DecisionLog {
	return DecisionLog{
		OnFailure:          "deny",
		CheckpointInterval: time.Minute,
		SQLiteSync:         "normal",
		Redact: Redact{
			EnvNames:    []string{`(?i)(passw(or)?d|secret|token|api[-_]?key|private[-_]?key|credential|auth)`},
			SecretNames: []string{`.+`},
			Annotations: []string{`(?i)(secret|token|password|credential|vault\.)`},
		},
	}
}

// Exemptions are requests microguard admits untouched.
type Exemptions struct {
	// Namespaces are matched by name (the immutable kubernetes.io/metadata.name
	// label), never by other labels a tenant could set.
	Namespaces []string
	Usernames  []string
	Groups     []string
}

// Exception waives the violations of one policy (optionally some of its
// rules) for matching objects until it expires. Platform teams grant them;
// auditors see who approved them, why, and until when.
type Exception struct {
	Policy        string
	Rules         []string // empty: every rule of the policy
	Namespaces    []string // globs; empty: any namespace
	Names         []string // globs on the object name; empty: any name
	Images        []string // globs; when set, every image of the object must match one
	Justification string
	ApprovedBy    string
	Expires       time.Time // the exception ends at this instant
	// Source names where it was declared, e.g. exceptions[0].
	Source string
}

// DefaultExemptedNamespaces are exempt when the config does not say otherwise.
var DefaultExemptedNamespaces = []string{"kube-system", "kube-node-lease"}

// Exempt reports whether a request in namespace by user (with groups) is
// exempt, and why.
func (e Exemptions) Exempt(namespace, username string, groups []string) (string, bool) {
	switch {
	case namespace != "" && slices.Contains(e.Namespaces, namespace):
		return "namespace " + namespace, true
	case username != "" && slices.Contains(e.Usernames, username):
		return "user " + username, true
	}
	for _, g := range groups {
		if slices.Contains(e.Groups, g) {
			return "group " + g, true
		}
	}
	return "", false
}

// Enabled reports whether policy id is on.
func (c *Config) Enabled(id string) bool {
	p, ok := c.Policies[id]
	return ok && p.Action != Off
}

// Default returns the built-in configuration: every implemented policy at its
// default action, every implemented mutation enabled, with option defaults.
func Default(s Schema) *Config {
	c := &Config{
		Policies:    map[string]Policy{},
		Mutations:   map[string]Mutation{},
		Exemptions:  Exemptions{Namespaces: slices.Clone(DefaultExemptedNamespaces)},
		DecisionLog: DefaultDecisionLog(),
	}
	for _, p := range s.Policies {
		c.Policies[p.ID] = Policy{Action: p.DefaultAction, Options: p.defaults()}
	}
	for _, m := range s.Mutations {
		c.Mutations[m.ID] = Mutation{Enabled: true, Options: m.defaults()}
	}
	return c
}

// Load reads and validates the configuration file at path.
func Load(path string, s Schema) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data, s)
}

// Parse validates data, read from the file called name, against schema s.
func Parse(name string, data []byte, s Schema) (*Config, error) {
	c, err := parse(name, data, s)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	c.Digest = "sha256:" + hex.EncodeToString(sum[:])
	c.File = name
	return c, nil
}

// CustomPoliciesDir reads only the customPolicies key of the config file at
// path, resolved against the file's directory: the policies it names must be
// loaded before the rest of the file can be checked against them.
func CustomPoliciesDir(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading config: %w", err)
	}
	var head struct {
		CustomPolicies any `yaml:"customPolicies"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return "", &Error{File: path, Msg: fmt.Sprintf("not valid YAML: %v", err)}
	}
	switch dir := head.CustomPolicies.(type) {
	case nil:
		return "", nil
	case string:
		if dir == "" || filepath.IsAbs(dir) {
			return dir, nil
		}
		return filepath.Join(filepath.Dir(path), dir), nil
	}
	return "", &Error{File: path, Key: "customPolicies", Msg: "expected a directory path"}
}
