//go:build linux

package rofs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// kernel are the mounts a container runtime gives a pod as they are (and
// the host's are left as they are): /proc, /sys and /dev (with /dev/shm).
var kernel = []string{"/proc", "/sys", "/dev"}

// Attr starts a process in a mount namespace of its own (Go makes its
// mounts private, so none reaches the parent's): directly as root, or else
// in a user namespace whose root is the caller.
func Attr() (*syscall.SysProcAttr, error) {
	a := &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	if uid, gid := os.Getuid(), os.Getgid(); uid != 0 {
		a.Cloneflags = syscall.CLONE_NEWUSER
		a.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		a.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}}
	}
	return a, nil
}

// Apply makes every mount of the calling process's mount namespace (which
// must be its own: Attr) read-only, but /proc, /sys and /dev and the
// writable directories (the pod's volumes), and works from / (a program's
// last resort for temporary files is its working directory). It checks that
// /tmp refuses a write and that each writable directory takes one.
func Apply(writable ...string) error {
	// Each writable directory becomes a mount of its own first, which
	// stays as it is.
	for _, d := range writable {
		if err := syscall.Mount(d, d, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return fmt.Errorf("bind mount of %s: %w", d, err)
		}
	}
	points, err := mountPoints()
	if err != nil {
		return err
	}
	for _, p := range points {
		if under(p, kernel) || under(p, writable) {
			continue
		}
		if err := readOnly(p); err != nil {
			return err
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

// Environ is this process's environment without TMPDIR and SQLITE_TMPDIR:
// the chart's pod sets neither, and a program would take them before /tmp.
func Environ() []string {
	return slices.DeleteFunc(os.Environ(), func(e string) bool {
		return strings.HasPrefix(e, "TMPDIR=") || strings.HasPrefix(e, "SQLITE_TMPDIR=")
	})
}

// mountPoints are the mount points of this process's mount namespace.
func mountPoints() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var points []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		// ID parent major:minor root mountpoint options ...; a space in a
		// path is \040.
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			return nil, fmt.Errorf("mountinfo line %q", s.Text())
		}
		p, err := unoctal(fields[4])
		if err != nil {
			return nil, fmt.Errorf("mountinfo line %q: %w", s.Text(), err)
		}
		points = append(points, p)
	}
	return points, s.Err()
}

// unoctal undoes mountinfo's \ooo escapes.
func unoctal(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			n, err := strconv.ParseUint(s[i+1:i+4], 8, 8)
			if err != nil {
				return "", err
			}
			b.WriteByte(byte(n))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String(), nil
}

// under reports whether path is one of dirs or below one.
func under(path string, dirs []string) bool {
	return slices.ContainsFunc(dirs, func(d string) bool {
		return path == d || strings.HasPrefix(path, strings.TrimSuffix(d, "/")+"/")
	})
}

// readOnly remounts the mount at p read-only. It keeps the flags the mount
// has (nosuid, nodev, noexec, its atime rule): a user namespace may not
// clear those its parent set.
func readOnly(p string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return fmt.Errorf("making %s read-only: %w", p, err)
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
	for _, f := range []struct{ st, ms int64 }{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if st.Flags&f.st != 0 {
			flags |= uintptr(f.ms)
		}
	}
	if err := syscall.Mount("", p, "", flags, ""); err != nil {
		return fmt.Errorf("making %s read-only: %w", p, err)
	}
	return nil
}
