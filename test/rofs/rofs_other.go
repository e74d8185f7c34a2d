//go:build !linux

package rofs

import (
	"errors"
	"syscall"
)

// Attr: a mount namespace of its own needs Linux.
func Attr() (*syscall.SysProcAttr, error) {
	return nil, errors.New("a read-only root filesystem for a process needs Linux mount namespaces")
}
