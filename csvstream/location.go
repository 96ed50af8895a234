package csvstream

import (
	"errors"
	"fmt"
	"strings"
)

// Location names where a job reads or writes: an S3 object, a local file,
// or standard input/output ("-").
type Location struct {
	Bucket string // set for an S3 object
	Key    string // the object key, for an S3 object
	Path   string // a local path, or "-" for standard input/output
}

// Stdio is the Location of standard input or output.
var Stdio = Location{Path: "-"}

// ParseLocation parses "s3://bucket/key", "-", or a local path.
func ParseLocation(s string) (Location, error) {
	switch {
	case s == "":
		return Location{}, errors.New("empty location: want s3://bucket/key, a local path, or -")
	case s == "-":
		return Stdio, nil
	case strings.HasPrefix(s, "s3://"):
		bucket, key, _ := strings.Cut(strings.TrimPrefix(s, "s3://"), "/")
		if bucket == "" {
			return Location{}, fmt.Errorf("location %q: missing bucket: want s3://bucket/key", s)
		}
		if key == "" {
			return Location{}, fmt.Errorf("location %q: missing key: want s3://bucket/key", s)
		}
		return Location{Bucket: bucket, Key: key}, nil
	case strings.Contains(s, "://"):
		return Location{}, fmt.Errorf("location %q: unsupported scheme: want s3://bucket/key, a local path, or -", s)
	}
	return Location{Path: s}, nil
}

// check reports a Location that ParseLocation could not have returned: an
// S3 object without its bucket or key, or one that also names a path.
func (l Location) check() error {
	switch {
	case l.Bucket == "" && l.Key != "":
		return fmt.Errorf("key %q names no bucket", l.Key)
	case l.Bucket != "" && l.Key == "":
		return fmt.Errorf("s3://%s/ names no key", l.Bucket)
	case l.Bucket != "" && l.Path != "":
		return fmt.Errorf("s3://%s/%s also names the path %q", l.Bucket, l.Key, l.Path)
	}
	return nil
}

// IsS3 reports whether l is an S3 object.
func (l Location) IsS3() bool { return l.Bucket != "" }

// IsStdio reports whether l is standard input or output.
func (l Location) IsStdio() bool { return l.Path == "-" }

// NamesDescriptor reports whether l is a local path naming one of the
// process's descriptors (/dev/stdout, /dev/stderr, /dev/fd/N or
// /proc/self/fd/N). Run writes such an output through the descriptor, and
// puts no default rejects beside it.
func (l Location) NamesDescriptor() bool {
	return !l.IsS3() && !l.IsStdio() && descriptorOf(l.Path) >= 0
}

// IsZero reports whether l names nothing.
func (l Location) IsZero() bool { return l == Location{} }

// String returns l in the form ParseLocation accepts.
func (l Location) String() string {
	if l.IsS3() {
		return "s3://" + l.Bucket + "/" + l.Key
	}
	return l.Path
}

// WithSuffix returns l with suffix appended to its key or path, as used for
// the default rejects location. Standard output has no such neighbour.
func (l Location) WithSuffix(suffix string) (Location, error) {
	switch {
	case l.IsS3():
		l.Key += suffix
	case l.IsStdio() || l.IsZero():
		return Location{}, fmt.Errorf("no default for %q next to %q: name it explicitly", suffix, l.String())
	default:
		l.Path += suffix
	}
	return l, nil
}
