//go:build linux

// Command roexec runs a program on a read-only root filesystem (package
// rofs), as the chart's pod runs microguard. Its parent starts it in a
// mount namespace of its own (rofs.Attr); it makes every mount read-only but
// the directories given with -w, and then becomes the program, without
// TMPDIR (rofs.Environ):
//
//	roexec [-w DIR]... -- PROGRAM [ARG]...
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/microguard/microguard/test/rofs"
)

func main() {
	var writable []string
	args := os.Args[1:]
	for len(args) >= 2 && args[0] == "-w" {
		writable, args = append(writable, args[1]), args[2:]
	}
	if len(args) < 2 || args[0] != "--" {
		fmt.Fprintln(os.Stderr, "usage: roexec [-w DIR]... -- PROGRAM [ARG]...")
		os.Exit(2)
	}
	prog, err := exec.LookPath(args[1])
	if err == nil {
		prog, err = filepath.Abs(prog) // Apply works from /
	}
	if err == nil {
		err = rofs.Apply(writable...)
	}
	if err == nil {
		err = syscall.Exec(prog, args[1:], rofs.Environ())
	}
	fmt.Fprintln(os.Stderr, "roexec:", err)
	os.Exit(1)
}
