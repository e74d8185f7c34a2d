// Package policies holds microguard's Rego bundle. Each validating policy is
// one directory with a .rego file, its _test.rego and testdata fixtures;
// adding one needs no Go change.
package policies

import "embed"

// FS is the embedded bundle: every .rego file and the fixtures beside them.
//
//go:embed lib/*.rego */*.rego */testdata
var FS embed.FS
