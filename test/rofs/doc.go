// Package rofs runs a process on a read-only root filesystem, as the
// chart's pod runs microguard: every mount read-only (the distroless image
// has no writable temporary directory either) but the kernel's (/proc, /sys,
// /dev) and its volumes, and no TMPDIR.
//
// The process gets a mount namespace of its own (Attr, for exec.Cmd's
// SysProcAttr), so nothing changes outside it, and calls Apply there. Tests
// run as root, or else as root of a user namespace of their own; a machine
// that allows neither fails the test, it does not skip it.
package rofs
