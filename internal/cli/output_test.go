package cli

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteOutput(t *testing.T) {
	write := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	var stdout bytes.Buffer
	if err := writeOutput(&stdout, "", write("a")); err != nil || stdout.String() != "a" {
		t.Fatalf("stdout: %q, %v", stdout.String(), err)
	}
	file := filepath.Join(t.TempDir(), "out.json")
	if err := writeOutput(nil, file, write("b")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); string(b) != "b" {
		t.Errorf("file holds %q", b)
	}
	// A failing writer leaves the earlier file as it was.
	if err := writeOutput(nil, file, func(io.Writer) error { return errors.New("boom") }); err == nil {
		t.Error("no error")
	}
	if b, _ := os.ReadFile(file); string(b) != "b" {
		t.Errorf("failed write changed the file to %q", b)
	}
	// A device is written in place, never replaced by a regular file.
	if err := writeOutput(nil, os.DevNull, write("c")); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(os.DevNull); err != nil || st.Mode().IsRegular() {
		t.Fatalf("%s is now a regular file", os.DevNull)
	}
}
