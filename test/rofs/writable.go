package rofs

import "os"

// Writable creates a file in dir and removes it: nil when dir takes a
// write.
func Writable(dir string) error {
	f, err := os.CreateTemp(dir, "rofs-probe-")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}
