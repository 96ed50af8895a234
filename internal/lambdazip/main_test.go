package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestWrite builds the archive from files as a build under umask 077
// leaves them, and again from the same files under umask 022: both
// archives are the same, with the bootstrap 0755 and other files 0644, as
// Lambda runs the code as a user other than their owner.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "bootstrap")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\necho hello\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "sub", "schema.json")
	if err := os.MkdirAll(filepath.Dir(data), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(data, []byte(`{"fields":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}

	first := filepath.Join(dir, "a.zip")
	second := filepath.Join(dir, "b.zip")
	for _, step := range []struct {
		archive         string
		exeMode, inMode os.FileMode
	}{{first, 0o700, 0o600}, {second, 0o755, 0o644}} {
		if err := os.Chmod(exe, step.exeMode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(data, step.inMode); err != nil {
			t.Fatal(err)
		}
		if err := write(step.archive, []string{exe, data}); err != nil {
			t.Fatalf("write %s: %v", step.archive, err)
		}
	}
	a, _ := os.ReadFile(first)
	b, _ := os.ReadFile(second)
	if !bytes.Equal(a, b) {
		t.Error("archives of the same files built under two umasks differ; want reproducible output")
	}

	zr, err := zip.OpenReader(first)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	want := map[string]struct {
		mode os.FileMode
		body string
	}{
		"bootstrap":   {0o755, "#!/bin/sh\necho hello\n"},
		"schema.json": {0o644, `{"fields":[]}`},
	}
	if len(zr.File) != len(want) {
		t.Fatalf("archive has %d entries, want %d", len(zr.File), len(want))
	}
	for _, f := range zr.File {
		w, ok := want[f.Name]
		if !ok {
			t.Errorf("unexpected entry %q", f.Name)
			continue
		}
		if got := f.Mode().Perm(); got != w.mode {
			t.Errorf("%s: mode %v, want %v", f.Name, got, w.mode)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if string(body) != w.body {
			t.Errorf("%s: body %q, want %q", f.Name, body, w.body)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	one := filepath.Join(dir, "x", "bootstrap")
	two := filepath.Join(dir, "y", "bootstrap")
	for _, p := range []string{one, two} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		files []string
	}{
		{"missing file", []string{filepath.Join(dir, "nope")}},
		{"directory", []string{dir}},
		{"same base name twice", []string{one, two}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, "out.zip")
			if err := write(out, tt.files); err == nil {
				t.Fatal("write succeeded, want an error")
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("archive left behind after a failure (stat: %v)", err)
			}
			left, _ := filepath.Glob(filepath.Join(dir, ".lambdazip-*"))
			if len(left) != 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
		})
	}
}
