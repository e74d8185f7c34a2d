//go:build linux

package rofs

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// readOnly are made read-only: the root and the directories where programs
// look for temporary space.
var readOnly = []string{"/", "/tmp", "/var/tmp", "/usr/tmp"}

// Attr starts a process in a mount namespace of its own (Go makes its
// mounts private, so none reaches the parent's): directly as root, or else
// in a user namespace whose root is the caller.
func Attr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	if uid, gid := os.Getuid(), os.Getgid(); uid != 0 {
		a.Cloneflags = syscall.CLONE_NEWUSER
		a.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		a.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}}
	}
	return a
}

// Apply makes /, /tmp, /var/tmp and /usr/tmp read-only in the calling
// process's mount namespace (which must be its own: Attr), except the
// writable directories (the pod's volumes), and works from / (a program's
// last resort for temporary files is its working directory). It checks that
// /tmp refuses a write and that each writable directory takes one.
func Apply(writable ...string) error {
	// Each writable directory becomes a mount of its own first, which the
	// read-only mounts below leave as it is (and the recursive binds carry
	// along).
	for _, d := range writable {
		if err := syscall.Mount(d, d, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return fmt.Errorf("bind mount of %s: %w", d, err)
		}
	}
	for _, p := range readOnly {
		if st, err := os.Stat(p); err != nil || !st.IsDir() {
			continue
		}
		// The root is a mount (this namespace's copy of it); a bind makes
		// each of the others one, should it be a directory of another.
		if p != "/" {
			if err := syscall.Mount(p, p, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
				return fmt.Errorf("bind mount of %s: %w", p, err)
			}
		}
		if err := syscall.Mount("", p, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("making %s read-only: %w", p, err)
		}
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	if err := Writable("/tmp"); !errors.Is(err, syscall.EROFS) {
		return fmt.Errorf("writing to /tmp: %v, want a read-only filesystem", err)
	}
	for _, d := range writable {
		if err := Writable(d); err != nil {
			return fmt.Errorf("writing to %s: %w", d, err)
		}
	}
	return nil
}
