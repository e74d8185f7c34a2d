//go:build !linux

package localcluster

import (
	"errors"
	"syscall"
)

func readOnlyAttr() (*syscall.SysProcAttr, error) {
	return nil, errors.New("ReadOnlyRoot needs Linux mount namespaces")
}
