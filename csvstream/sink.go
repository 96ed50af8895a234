package csvstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// sink is where one job output goes. Write receives whole records; Close
// publishes what was written and Abort discards it, so a failed job never
// leaves a partial output behind.
type sink interface {
	io.Writer
	Close() error
	Abort() error
}

// openSink opens the output at loc. Standard output is stdout.
func openSink(ctx context.Context, api UploadAPI, loc Location, stdout io.Writer, opt WriterOptions, contentType string) (sink, error) {
	switch {
	case loc.IsS3():
		if api == nil {
			return nil, fmt.Errorf("write %s: no S3 client configured", loc)
		}
		opt.ContentType = contentType
		w, err := NewObjectWriter(ctx, api, loc.Bucket, loc.Key, opt)
		if err != nil {
			return nil, err
		}
		return w, nil
	case loc.IsStdio():
		if stdout == nil {
			return nil, errors.New("write to standard output: no writer configured")
		}
		return &streamSink{w: bufio.NewWriterSize(stdout, 256<<10)}, nil
	default:
		return newFileSink(loc.Path)
	}
}

// streamSink writes to a stream that cannot be taken back, such as stdout.
// Abort drops what is still buffered; what was already written stays.
type streamSink struct{ w *bufio.Writer }

func (s *streamSink) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s *streamSink) Close() error                { return s.w.Flush() }
func (s *streamSink) Abort() error                { s.w.Reset(io.Discard); return nil }

// fileSink writes to a temporary file next to the target and renames it
// into place on Close, so readers never see a partial file.
type fileSink struct {
	path string
	f    *os.File
	w    *bufio.Writer
}

func newFileSink(path string) (*fileSink, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	// CreateTemp makes the file private; the output is an ordinary file.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &fileSink{path: path, f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

func (s *fileSink) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", s.path, err)
	}
	return n, nil
}

func (s *fileSink) Close() error {
	if s.f == nil {
		return fmt.Errorf("close %s: already closed", s.path)
	}
	tmp := s.f.Name()
	err := s.w.Flush()
	if err == nil {
		err = s.f.Sync()
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	return nil
}

func (s *fileSink) Abort() error {
	if s.f == nil {
		return nil
	}
	tmp := s.f.Name()
	s.f.Close()
	s.f = nil
	if err := os.Remove(tmp); err != nil {
		return fmt.Errorf("discard %s: %w", tmp, err)
	}
	return nil
}
