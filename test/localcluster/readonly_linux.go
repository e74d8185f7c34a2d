package localcluster

import (
	"syscall"

	"github.com/microguard/microguard/test/rofs"
)

// readOnlyAttr starts roexec in a mount namespace of its own.
func readOnlyAttr() (*syscall.SysProcAttr, error) { return rofs.Attr(), nil }
