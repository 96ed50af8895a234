// Command lambdazip packs files into a zip archive for AWS Lambda, without
// depending on a zip program being installed.
//
// Usage:
//
//	lambdazip -o ARCHIVE.zip FILE...
//
// Each file is stored under its base name at the root of the archive, as
// Lambda expects the bootstrap of a custom runtime. Lambda runs the code as
// a user other than the files' owner, so an executable file (one with any
// execute bit) is stored as 0755 and any other file as 0644, whatever umask
// it was built under; modification times are fixed too, so the same inputs
// always give the same archive.
package main

import (
	"archive/zip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

func main() {
	out := flag.String("o", "", "archive to write")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: lambdazip -o ARCHIVE.zip FILE...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := write(*out, flag.Args()); err != nil {
		fmt.Fprintf(os.Stderr, "lambdazip: %v\n", err)
		os.Exit(1)
	}
}

// write creates the archive at name from files, replacing it only once it
// is complete.
func write(name string, files []string) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".lambdazip-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	zw := zip.NewWriter(tmp)
	seen := make(map[string]string)
	for _, f := range files {
		base := filepath.Base(f)
		if prev, ok := seen[base]; ok {
			return fmt.Errorf("%s and %s would both be stored as %s", prev, f, base)
		}
		seen[base] = f
		if err := add(zw, f, base); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// add stores the regular file path in zw as name.
func add(zw *zip.Writer, path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New(path + ": not a regular file")
	}
	hdr, err := zip.FileInfoHeader(fi)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	hdr.Name = name
	hdr.Method = zip.Deflate
	// Readable by all, and executable by all if executable at all: a
	// bootstrap built under umask 077 is 0700, which Lambda cannot run.
	mode := os.FileMode(0o644)
	if fi.Mode()&0o111 != 0 {
		mode = 0o755
	}
	hdr.SetMode(mode)
	// A fixed time makes the same inputs give the same archive.
	hdr.Modified = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
