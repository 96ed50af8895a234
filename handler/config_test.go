package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/csvstream/csvstream/csvstream"
	"github.com/csvstream/csvstream/internal/gen"
)

func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigFromEnv(t *testing.T) {
	dir := t.TempDir()
	schemaPath := filepath.Join(dir, "orders.schema.json")
	if err := os.WriteFile(schemaPath, []byte(gen.Schema), 0o644); err != nil {
		t.Fatal(err)
	}
	badSchema := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(badSchema, []byte(`{"fields": 3}`), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("full", func(t *testing.T) {
		cfg, err := ConfigFromEnv(envFunc(map[string]string{
			EnvOutput:          "s3://out/valid",
			EnvRejects:         "s3://rej/bad/",
			EnvSchema:          schemaPath,
			EnvInputPrefix:     "incoming/",
			EnvPartSize:        "6MiB",
			EnvConcurrency:     "3",
			EnvReadConcurrency: "64",
			EnvMaxRejectRatio:  "0.25",
			EnvSweepOlderThan:  "2h",
			EnvDelimiter:       "tab",
			EnvMaxRecordSize:   "64KiB",
		}))
		if err != nil {
			t.Fatal(err)
		}
		want := Config{
			Output:          Prefix{"out", "valid/"},
			Rejects:         Prefix{"rej", "bad/"},
			InputPrefix:     "incoming/",
			SchemaLocation:  csvstream.Location{Path: schemaPath},
			PartSize:        6 << 20,
			Concurrency:     3,
			ReadConcurrency: 64,
			SweepOlderThan:  2 * 3600e9,
			Scan:            csvstream.ScanOptions{Comma: '\t', MaxRecordSize: 64 << 10},
		}
		if cfg.Schema == nil || len(cfg.Schema.Fields) != 9 {
			t.Errorf("schema not loaded at start-up: %+v", cfg.Schema)
		}
		if cfg.MaxRejectRatio == nil || *cfg.MaxRejectRatio != 0.25 {
			t.Errorf("max reject ratio %v", cfg.MaxRejectRatio)
		}
		cfg.Schema, cfg.MaxRejectRatio = nil, nil
		if !reflect.DeepEqual(cfg, want) {
			t.Errorf("config\n%+v\nwant\n%+v", cfg, want)
		}
	})

	t.Run("defaults", func(t *testing.T) {
		cfg, err := ConfigFromEnv(envFunc(map[string]string{EnvOutput: "s3://out", EnvSchema: "s3://cfg/orders.json"}))
		if err != nil {
			t.Fatal(err)
		}
		cfg = cfg.withDefaults()
		if cfg.Output != (Prefix{"out", ""}) || cfg.Rejects != (Prefix{"out", DefaultRejectsPrefix}) {
			t.Errorf("output %v, rejects %v", cfg.Output, cfg.Rejects)
		}
		if cfg.Schema != nil || cfg.SchemaLocation != (csvstream.Location{Bucket: "cfg", Key: "orders.json"}) {
			t.Errorf("an S3 schema is read per invocation, not at start-up: %+v %v", cfg.Schema, cfg.SchemaLocation)
		}
		if cfg.SweepOlderThan != csvstream.DefaultSweepAge || cfg.DeadlineMargin != DefaultDeadlineMargin {
			t.Errorf("sweep age %v, margin %v", cfg.SweepOlderThan, cfg.DeadlineMargin)
		}
	})

	bad := []struct {
		name string
		env  map[string]string
		want string // the variable the error must name
	}{
		{"no output", map[string]string{}, EnvOutput},
		{"output not s3", map[string]string{EnvOutput: "/tmp/out"}, EnvOutput},
		{"rejects not s3", map[string]string{EnvOutput: "s3://o/", EnvRejects: "rejects/"}, EnvRejects},
		{"input prefix as URL", map[string]string{EnvOutput: "s3://o/", EnvInputPrefix: "s3://in/incoming/"}, EnvInputPrefix},
		{"output under the input prefix", map[string]string{EnvOutput: "s3://in/incoming/valid/", EnvInputPrefix: "incoming/"}, EnvInputPrefix},
		{"rejects under the input prefix", map[string]string{EnvOutput: "s3://o/", EnvRejects: "s3://in/incoming/", EnvInputPrefix: "incoming/"}, EnvRejects},
		{"default rejects under the input prefix", map[string]string{EnvOutput: "s3://o/valid/", EnvInputPrefix: "rejects/"}, EnvRejects + " (unset, so its default) s3://o/rejects/"},
		{"schema missing file", map[string]string{EnvOutput: "s3://o/", EnvSchema: filepath.Join(dir, "nope.json")}, EnvSchema},
		{"schema invalid", map[string]string{EnvOutput: "s3://o/", EnvSchema: badSchema}, EnvSchema},
		{"schema stdin", map[string]string{EnvOutput: "s3://o/", EnvSchema: "-"}, EnvSchema},
		{"part size small", map[string]string{EnvOutput: "s3://o/", EnvPartSize: "4MiB"}, EnvPartSize},
		{"part size garbage", map[string]string{EnvOutput: "s3://o/", EnvPartSize: "big"}, EnvPartSize},
		{"concurrency zero", map[string]string{EnvOutput: "s3://o/", EnvConcurrency: "0"}, EnvConcurrency},
		{"concurrency garbage", map[string]string{EnvOutput: "s3://o/", EnvConcurrency: "four"}, EnvConcurrency},
		{"read concurrency zero", map[string]string{EnvOutput: "s3://o/", EnvReadConcurrency: "0"}, EnvReadConcurrency},
		{"read concurrency too high", map[string]string{EnvOutput: "s3://o/", EnvReadConcurrency: "65"}, EnvReadConcurrency},
		{"ratio above one", map[string]string{EnvOutput: "s3://o/", EnvMaxRejectRatio: "1.5"}, EnvMaxRejectRatio},
		{"ratio NaN", map[string]string{EnvOutput: "s3://o/", EnvMaxRejectRatio: "NaN"}, EnvMaxRejectRatio},
		{"sweep age", map[string]string{EnvOutput: "s3://o/", EnvSweepOlderThan: "-1h"}, EnvSweepOlderThan},
		{"sweep age too short", map[string]string{EnvOutput: "s3://o/", EnvSweepOlderThan: "20m"}, EnvSweepOlderThan},
		{"delimiter two characters", map[string]string{EnvOutput: "s3://o/", EnvDelimiter: ";;"}, EnvDelimiter},
		{"delimiter quote", map[string]string{EnvOutput: "s3://o/", EnvDelimiter: `"`}, EnvDelimiter},
		{"record size zero", map[string]string{EnvOutput: "s3://o/", EnvMaxRecordSize: "0"}, EnvMaxRecordSize},
		{"record size too large", map[string]string{EnvOutput: "s3://o/", EnvMaxRecordSize: "2GiB"}, EnvMaxRecordSize},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ConfigFromEnv(envFunc(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestOutputs(t *testing.T) {
	cfg := Config{Output: Prefix{"out", "valid/"}, InputPrefix: "incoming/"}.withDefaults()
	bare, dated := cfg, cfg
	bare.InputPrefix, dated.InputPrefix = "incoming", "incoming/2026-"
	src := csvstream.Location{Bucket: "in", Key: "incoming/daily orders café.csv"}
	tests := []struct {
		name     string
		cfg      Config
		src      csvstream.Location
		req      directRequest
		dst, rej string
		invalid  string // an InvalidEvent saying this
		internal string // an InternalError saying this
	}{
		{name: "derived", cfg: cfg, src: src,
			dst: "s3://out/valid/daily orders café.csv", rej: "s3://out/rejects/daily orders café.csv.rejects.csv"},
		{name: "outside the input prefix keeps the whole key", cfg: cfg, src: csvstream.Location{Bucket: "in", Key: "other/x.csv"},
			dst: "s3://out/valid/other/x.csv", rej: "s3://out/rejects/other/x.csv.rejects.csv"},
		{name: "no input prefix", cfg: Config{Output: Prefix{"out", ""}}.withDefaults(), src: src,
			dst: "s3://out/incoming/daily orders café.csv", rej: "s3://out/rejects/incoming/daily orders café.csv.rejects.csv"},
		{name: "jsonl", cfg: cfg, src: src, req: directRequest{Format: "jsonl"},
			dst: "s3://out/valid/daily orders café.csv.jsonl", rej: "s3://out/rejects/daily orders café.csv.rejects.csv"},
		// The rejects among the valid rows: a source named like a
		// rejects object would overwrite another source's rejects.
		{name: "rejects beside the output, source named like rejects", cfg: Config{Output: Prefix{"out", "valid/"}, Rejects: Prefix{"out", "valid/"}, InputPrefix: "incoming/"},
			src:     csvstream.Location{Bucket: "in", Key: "incoming/a.csv.rejects.csv"},
			invalid: `s3://in/incoming/a.csv.rejects.csv: its valid rows would go to s3://out/valid/a.csv.rejects.csv, where another source's rejects go`},
		{name: "rejects under the output, source named like rejects", cfg: Config{Output: Prefix{"out", "valid/"}, Rejects: Prefix{"out", "valid/rejects/"}, InputPrefix: "incoming/"},
			src:     csvstream.Location{Bucket: "in", Key: "incoming/rejects/x.csv.rejects.csv"},
			invalid: `its valid rows would go to s3://out/valid/rejects/x.csv.rejects.csv, where another source's rejects go`},
		{name: "rejects beside the output", cfg: Config{Output: Prefix{"out", "valid/"}, Rejects: Prefix{"out", "valid/"}, InputPrefix: "incoming/"}, src: src,
			dst: "s3://out/valid/daily orders café.csv", rej: "s3://out/valid/daily orders café.csv.rejects.csv"},
		{name: "source named like rejects, rejects apart", cfg: cfg, src: csvstream.Location{Bucket: "in", Key: "incoming/a.csv.rejects.csv"},
			dst: "s3://out/valid/a.csv.rejects.csv", rej: "s3://out/rejects/a.csv.rejects.csv.rejects.csv"},
		// A Config built in Go: a prefix names a folder, "/" or not.
		{name: "output prefix without a slash", cfg: Config{Output: Prefix{"out", "valid"}, Rejects: Prefix{"out", "rej"}, InputPrefix: "incoming/"}.withDefaults(), src: src,
			dst: "s3://out/valid/daily orders café.csv", rej: "s3://out/rej/daily orders café.csv.rejects.csv"},
		{name: "explicit objects", cfg: cfg, src: src, req: directRequest{Destination: "s3://d/x.csv", Rejects: "s3://r/y.csv"},
			dst: "s3://d/x.csv", rej: "s3://r/y.csv"},
		{name: "explicit destination, rejects beside it", cfg: cfg, src: src, req: directRequest{Destination: "s3://d/x.csv"},
			dst: "s3://d/x.csv", rej: "s3://d/x.csv.rejects.csv"},
		{name: "explicit prefixes", cfg: cfg, src: src, req: directRequest{Destination: "s3://d/v/", Rejects: "s3://r"},
			dst: "s3://d/v/daily orders café.csv", rej: "s3://r/daily orders café.csv.rejects.csv"},
		{name: "jsonl under an explicit prefix", cfg: cfg, src: src, req: directRequest{Destination: "s3://d/v/", Format: "jsonl"},
			dst: "s3://d/v/daily orders café.csv.jsonl", rej: "s3://d/v/daily orders café.csv.jsonl.rejects.csv"},
		// A value not s3:// is neither an object nor a prefix, whatever
		// its slashes: the message says what the field takes.
		{name: "destination not s3", cfg: cfg, src: src, req: directRequest{Destination: "/tmp/x.csv"},
			invalid: `"destination" "/tmp/x.csv": want s3://bucket/key or s3://bucket/prefix/`},
		{name: "destination with one slash after s3:", cfg: cfg, src: src, req: directRequest{Destination: "s3:/d/x.csv"},
			invalid: `"destination" "s3:/d/x.csv": want s3://bucket/key or s3://bucket/prefix/`},
		{name: "rejects not s3", cfg: cfg, src: src, req: directRequest{Rejects: "x.csv"},
			invalid: `"rejects" "x.csv": want s3://bucket/key or s3://bucket/prefix/`},
		{name: "rejects a local folder", cfg: cfg, src: src, req: directRequest{Rejects: "out/rejects/"},
			invalid: `"rejects" "out/rejects/": want s3://bucket/key or s3://bucket/prefix/`},
		{name: "rejects prefix with no bucket", cfg: cfg, src: src, req: directRequest{Rejects: "s3:///rejects/"},
			invalid: `"rejects": prefix "s3:///rejects/": missing bucket`},
		{name: "key is the input prefix", cfg: cfg, src: csvstream.Location{Bucket: "in", Key: "incoming/"},
			invalid: "s3://in/incoming/: the key is the input prefix itself"},
		// Only the prefix's folder is removed, so that no two keys share
		// outputs: without it, incoming/x.csv and incomingx.csv would
		// both be x.csv.
		{name: "prefix in a folder", cfg: dated, src: csvstream.Location{Bucket: "in", Key: "incoming/2026-01.csv"},
			dst: "s3://out/valid/2026-01.csv", rej: "s3://out/rejects/2026-01.csv.rejects.csv"},
		{name: "prefix with no folder", cfg: bare, src: src,
			dst: "s3://out/valid/incoming/daily orders café.csv", rej: "s3://out/rejects/incoming/daily orders café.csv.rejects.csv"},
		{name: "key beside a prefix with no folder", cfg: bare, src: csvstream.Location{Bucket: "in", Key: "incomingx.csv"},
			dst: "s3://out/valid/incomingx.csv", rej: "s3://out/rejects/incomingx.csv.rejects.csv"},
		// A Config built in Go may lack a bucket that ConfigFromEnv requires.
		{name: "no output bucket", cfg: Config{Rejects: Prefix{"r", ""}}.withDefaults(), src: src, internal: "Config has no output bucket"},
		{name: "no rejects bucket", cfg: Config{Output: Prefix{"out", "valid/"}, Rejects: Prefix{"", "rejects/"}}, src: src, internal: "Config has no rejects bucket"},
		{name: "no buckets, payload names the outputs", cfg: Config{}.withDefaults(), src: src, req: directRequest{Destination: "s3://d/x.csv"},
			dst: "s3://d/x.csv", rej: "s3://d/x.csv.rejects.csv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst, rej, err := tt.cfg.outputs(tt.src, tt.req)
			if tt.internal != "" {
				var ie *InternalError
				if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.internal) || !strings.Contains(err.Error(), tt.src.String()) {
					t.Fatalf("error %v, want InternalError naming %s and saying %q", err, tt.src, tt.internal)
				}
				return
			}
			if tt.invalid != "" {
				var ie *InvalidEvent
				if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.invalid) {
					t.Fatalf("error %v, want InvalidEvent saying %s", err, tt.invalid)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if dst.String() != tt.dst || rej.String() != tt.rej {
				t.Errorf("outputs %s, %s; want %s, %s", dst, rej, tt.dst, tt.rej)
			}
		})
	}
}

func TestGuard(t *testing.T) {
	loc := func(s string) csvstream.Location {
		l, err := csvstream.ParseLocation(s)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	cfg := Config{Output: Prefix{"b", "valid/"}, InputPrefix: "incoming/"}.withDefaults()
	root := Config{Output: Prefix{"o", "valid/"}, Rejects: Prefix{"b", ""}}
	tests := []struct {
		name          string
		cfg           Config
		src, dst, rej string
		risk          bool
	}{
		{"separate places", cfg, "s3://b/incoming/x.csv", "s3://b/valid/x.csv", "s3://b/rejects/x.csv.rejects.csv", false},
		// The output and rejects prefixes are places in their own buckets:
		// a key of another bucket that merely looks like an output is a
		// source like any other.
		{"key under the output prefix, another bucket", cfg, "s3://in/valid/x.csv", "s3://b/valid/valid/x.csv", "s3://b/rejects/valid/x.csv.rejects.csv", false},
		{"key under the rejects prefix, another bucket", cfg, "s3://in/rejects/x.csv", "s3://b/valid/rejects/x.csv", "s3://b/rejects/rejects/x.csv.rejects.csv", false},
		{"rejects-named key, another bucket than the rejects at a root", root, "s3://in/x.rejects.csv", "s3://o/valid/x.rejects.csv", "s3://b/x.rejects.csv.rejects.csv", false},
		{"destination is the source", cfg, "s3://b/incoming/x.csv", "s3://b/incoming/x.csv", "s3://b/rejects/x", true},
		{"rejects is the source", cfg, "s3://b/x.csv", "s3://b/valid/x.csv", "s3://b/x.csv", true},
		{"destination under the input prefix", cfg, "s3://b/incoming/x.csv", "s3://b/incoming/out/x.csv", "s3://b/rejects/x", true},
		{"rejects under the input prefix", cfg, "s3://b/incoming/x.csv", "s3://b/valid/x.csv", "s3://b/incoming/x.rej", true},
		// The configuration names the watched prefix, not its bucket, so
		// that prefix is refused in every bucket.
		{"input prefix in another bucket", cfg, "s3://b/incoming/x.csv", "s3://other/incoming/x.csv", "s3://other/r", true},
		{"source elsewhere, output into the watched prefix", cfg, "s3://other/x.csv", "s3://b/incoming/x.csv", "s3://b/rejects/x", true},
		{"source is an output", cfg, "s3://b/valid/x.csv", "s3://c/valid/x.csv", "s3://c/r", true},
		{"source is a rejects file", cfg, "s3://b/rejects/x.csv.rejects.csv", "s3://c/x", "s3://c/r", true},
		{"output at a bucket root is not a source filter", Config{Output: Prefix{"b", ""}, Rejects: Prefix{"b", "rej/"}}, "s3://b/in/x.csv", "s3://b/x.csv", "s3://b/rej/x", false},
		// At a bucket root, a key named as the outputs there are is one:
		// without the check, each rejects file would beget another.
		{"source is a rejects file at a bucket root", Config{Output: Prefix{"o", "valid/"}, Rejects: Prefix{"b", ""}}, "s3://b/x.csv.rejects.csv", "s3://o/valid/x.csv.rejects.csv", "s3://b/x.csv.rejects.csv.rejects.csv", true},
		{"source beside rejects at a bucket root", Config{Output: Prefix{"o", "valid/"}, Rejects: Prefix{"b", ""}}, "s3://b/x.csv", "s3://o/valid/x.csv", "s3://b/x.csv.rejects.csv", false},
		{"source is JSON Lines output at a bucket root", Config{Output: Prefix{"b", ""}, Rejects: Prefix{"b", "rej/"}}, "s3://b/x.csv.jsonl", "s3://b/x.csv.jsonl.jsonl", "s3://b/rej/x", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.guard(loc(tt.src), loc(tt.dst), loc(tt.rej))
			var rr *RecursionRisk
			if tt.risk != errors.As(err, &rr) {
				t.Fatalf("guard: %v, want a RecursionRisk: %v", err, tt.risk)
			}
			if tt.risk && !strings.Contains(err.Error(), tt.src) {
				t.Errorf("error %q does not name the source", err)
			}
		})
	}
}

// TestErrorTypes checks that each error maps to its type and that the
// name Lambda reports, the Go type name the runtime client finds by
// reflection, is the one Step Functions rules match.
func TestErrorTypes(t *testing.T) {
	obj := "s3://b/k.csv"
	wrap := func(sentinel error) error { return fmt.Errorf("%w: %s: detail", sentinel, obj) }
	tests := []struct {
		err  error
		stop bool
		want string
	}{
		{wrap(csvstream.ErrSourceNotFound), false, "SourceNotFound"},
		{wrap(csvstream.ErrSourceChanged), false, "SourceChanged"},
		{wrap(csvstream.ErrSourceRead), false, "SourceReadFailed"},
		{fmt.Errorf("%w: %w", csvstream.ErrSchema, wrap(csvstream.ErrSourceNotFound)), false, "SchemaError"},
		{fmt.Errorf("%w: %w", csvstream.ErrSchema, wrap(csvstream.ErrSourceRead)), false, "SourceReadFailed"},
		{fmt.Errorf("%w: %w", csvstream.ErrSchema, wrap(csvstream.ErrSourceChanged)), false, "SourceChanged"},
		{fmt.Errorf("%w: %w", csvstream.ErrSchema, wrap(csvstream.ErrAccessDenied)), false, "AccessDenied"},
		{fmt.Errorf("%s: %w", obj, &csvstream.HeaderError{Missing: []string{"id"}}), false, "HeaderMismatch"},
		{wrap(csvstream.ErrTooManyRejects), false, "TooManyRejects"},
		{wrap(csvstream.ErrUploadFailed), false, "UploadFailed"},
		{wrap(csvstream.ErrAccessDenied), false, "AccessDenied"},
		{fmt.Errorf("%w: %w", csvstream.ErrAccessDenied, wrap(csvstream.ErrUploadFailed)), false, "AccessDenied"},
		{wrap(csvstream.ErrInvalidJob), false, "InvalidEvent"},
		// An output bucket S3 does not have fails the same way every time.
		{fmt.Errorf("%w: %w", csvstream.ErrInvalidJob, wrap(csvstream.ErrUploadFailed)), false, "InvalidEvent"},
		{fmt.Errorf("%w: %w", csvstream.ErrUploadFailed, context.DeadlineExceeded), false, "Timeout"},
		{wrap(csvstream.ErrSourceRead), true, "Timeout"},
		{errors.New("boom"), false, "InternalError"},
		{&RecursionRisk{failure{Object: obj, Err: errors.New("loop")}}, false, "RecursionRisk"},
	}
	for _, tt := range tests {
		err := classify(tt.err, obj, tt.stop)
		if got := reflect.TypeOf(err).Elem().Name(); got != tt.want {
			t.Errorf("classify(%v) is a %s, want %s", tt.err, got, tt.want)
		}
		if got := ErrorType(err); got != tt.want {
			t.Errorf("ErrorType(%v) = %s, want %s", err, got, tt.want)
		}
		if !errors.Is(err, tt.err) {
			t.Errorf("%s does not wrap its cause", tt.want)
		}
		if !strings.Contains(err.Error(), obj) {
			t.Errorf("%s message %q does not name %s", tt.want, err, obj)
		}
	}
	if got := ErrorType(errors.New("x")); got != "InternalError" {
		t.Errorf("ErrorType of a plain error = %s", got)
	}
	if msg := classify(errors.New("boom"), obj, false).Error(); msg != obj+": boom" {
		t.Errorf("message %q, want the object prefixed", msg)
	}
}

func TestShapeOf(t *testing.T) {
	tests := []struct {
		event string
		shape string
	}{
		{`{"Records":[{"eventSource":"aws:s3","s3":{}}]}`, shapeS3},
		{`{"Records":[{"eventSource":"aws:sqs","body":"{}"}]}`, shapeSQS},
		{`{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}`, shapeS3Test},
		{`{"source":"aws.s3","detail-type":"Object Created","detail":{}}`, shapeEventBridge},
		{`{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`, shapeSchedule},
		{`{"sweep":{}}`, shapeSweep},
		{`{"bucket":"b","key":"k"}`, shapeDirect},
		{`{"Type":"Notification","Message":"{\"Records\":[{\"eventSource\":\"aws:s3\"}]}"}`, shapeS3},
		{` {"key":"k"} `, shapeDirect},
		{`{"version":"1.0","requestContext":{"condition":"RetriesExhausted"},"requestPayload":{"sweep":{}}}`, shapeSweep},
		{`{"requestContext":{},"requestPayload":{"bucket":"b","key":"k"},"responsePayload":{"errorType":"Timeout"}}`, shapeDirect},
		{`{"requestContext":{},"requestPayload":null}`, ""},
		{`{"requestPayload":{"bucket":"b","key":"k"}}`, ""}, // not a failure record without its requestContext
		{strings.Repeat(`{"requestContext":{},"requestPayload":`, 8) + `{"bucket":"b","key":"k"}` + strings.Repeat(`}`, 8), shapeDirect},
		{strings.Repeat(`{"requestContext":{},"requestPayload":`, 9) + `{"bucket":"b","key":"k"}` + strings.Repeat(`}`, 9), ""},
		// Only an SNS Notification's Message is an event.
		{`{"Message":"{\"bucket\":\"b\",\"key\":\"k\"}"}`, ""},
		{`{"Type":"SubscriptionConfirmation","Message":"{\"bucket\":\"b\",\"key\":\"k\"}"}`, ""},
		{`{"Records":[{"eventSource":"aws:s3"},{"eventSource":"aws:sqs"}]}`, ""},
		{`{"Records":[{"eventSource":"aws:dynamodb"}]}`, ""},
		{`{"source":"aws.events","detail-type":"Other"}`, ""},
		{`{"hello":"world"}`, ""},
		{`[1,2]`, ""},
		{`"text"`, ""},
		{`{`, ""},
		{``, ""},
	}
	for _, tt := range tests {
		shape, _, err := shapeOf([]byte(tt.event))
		if shape != tt.shape || (err != nil) != (tt.shape == "") {
			t.Errorf("shapeOf(%s) = %q, %v; want %q", tt.event, shape, err, tt.shape)
		}
	}
}

// TestEventErrorMessages checks that a malformed event is described in the
// event's own terms, naming the field, never Go's types.
func TestEventErrorMessages(t *testing.T) {
	tests := []struct {
		event string
		parse func([]byte) error
		want  string
	}{
		{`{"Records":"x"}`, probeShape, `unrecognised event: "Records" is a JSON string, want an array`},
		{`{"bucket":"b",`, probeShape, `not valid JSON: unexpected end of JSON input`},
		{`{"bucket":"b",]`, probeShape, `not valid JSON: invalid character ']' looking for beginning of object key string (at byte 15)`},
		{`{"Type":"Notification","Message":"not json"}`, probeShape, `SNS message: the event is not a JSON object`},
		{`{"requestContext":{},"requestPayload":[]}`, probeShape, `the failed invocation's requestPayload: the event is not a JSON object`},
		{strings.Repeat(`{"requestContext":{},"requestPayload":`, 10) + `{"bucket":"b","key":"k"}` + strings.Repeat(`}`, 10), probeShape, `wrapped in more than 8`},
		{`{"bucket":1,"key":"k"}`, probeDirect, `direct payload: "bucket" is a JSON number, want a string`},
		{`{"bucket":"b","key":"k","dest":"x"}`, probeDirect, `direct payload: unknown field "dest"`},
		{`{"bucket":"b","key":"incoming/sub/"}`, probeDirect, `"key" "incoming/sub/" ends with /: it names a folder`},
		{`{"sweep":{"dry_run":"yes"}}`, probeSweep, `sweep payload: "sweep.dry_run" is a JSON string, want true or false`},
		{`{"sweep":{"prefixes":"s3://b/"}}`, probeSweep, `sweep payload: "sweep.prefixes" is a JSON string, want an array`},
		{`{"Records":[{"s3":{"bucket":[]}}]}`, probeS3, `S3 event notification: "Records.s3.bucket" is a JSON array, want an object`},
		{`{"Records":[{"s3":{"object":{"size":1.5}}}]}`, probeS3, `"Records.s3.object.size" is a JSON number 1.5, want an integer`},
		{`{"Records":[{"s3":{"bucket":{"name":true}}}]}`, probeS3, `"Records.s3.bucket.name" is a JSON boolean, want a string`},
		{`{"Records":[{"eventTime":"yesterday"}]}`, probeS3, `record 0: eventTime "yesterday" is not in RFC 3339 form`},
		{`{"Records":[{"eventTime":"2024-01-02T03:04:05Z"},{"eventTime":1795154412}]}`, probeS3,
			`record 1: eventTime is not a string: want an RFC 3339 time such as "2006-01-02T15:04:05Z"`},
		{`{"source":"aws.s3","time":5}`, probeEventBridge, `EventBridge event: time is not a string: want an RFC 3339 time`},
		{`{"source":"aws.s3","time":""}`, probeEventBridge, `EventBridge event: time "" is not in RFC 3339 form`},
	}
	for _, tt := range tests {
		err := tt.parse([]byte(tt.event))
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "Go ") || strings.Contains(err.Error(), "struct") {
			t.Errorf("%s: %v, want an error saying %s", tt.event, err, tt.want)
		}
	}
	// The plain words wrap encoding/json's own error.
	var syn *json.SyntaxError
	if err := probeShape([]byte(`{"bucket":"b",]`)); !errors.As(err, &syn) {
		t.Errorf("a syntax error: %v does not wrap a *json.SyntaxError", err)
	}
	var typ *json.UnmarshalTypeError
	if err := probeDirect([]byte(`{"bucket":1,"key":"k"}`)); !errors.As(err, &typ) || typ.Field != "bucket" {
		t.Errorf("a wrong type: %v does not wrap the *json.UnmarshalTypeError for bucket", err)
	}
}

func probeShape(b []byte) error  { _, _, err := shapeOf(b); return err }
func probeDirect(b []byte) error { _, err := parseDirect(b); return err }
func probeSweep(b []byte) error  { _, err := parseSweep(b); return err }
func probeS3(b []byte) error     { _, err := parseS3Event(b); return err }
func probeEventBridge(b []byte) error {
	_, err := parseEventBridge(b)
	return err
}

// longUnicodeKey is a key of 463 bytes, well within S3's 1,024, whose URL
// encoding in an S3 notification takes 1,363.
var longUnicodeKey = "incoming/" + strings.Repeat("注文データ", 30) + ".csv"

func TestParseS3EventDecodesKeys(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"incoming/daily+orders+caf%C3%A9.csv", "incoming/daily orders café.csv"},
		{"a%2Bb.csv", "a+b.csv"},
		{"plain.csv", "plain.csv"},
		{"x%3Dy%26z.csv", "x=y&z.csv"},
		// A key S3 holds (463 bytes, under its 1,024) whose URL encoding,
		// as the notification carries it, is longer than any S3 name:
		// each byte of a non-ASCII character is sent as %XX.
		{s3Escape(longUnicodeKey), longUnicodeKey},
		{s3Escape("incoming/" + strings.Repeat("é", 505) + ".csv"), "incoming/" + strings.Repeat("é", 505) + ".csv"},
	}
	for _, tt := range tests {
		ev := fmt.Sprintf(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":%q}}}]}`, tt.raw)
		objs, err := parseS3Event([]byte(ev))
		if err != nil || len(objs) != 1 || objs[0].Key != tt.want || objs[0].Skip != "" {
			t.Errorf("key %q: %+v, %v; want %q", tt.raw, objs, err, tt.want)
		}
	}
	// A hand-built event with raw keys: the message names the first record
	// whose key does not decode, and its key, and says how S3 encodes keys.
	_, err := parseS3Event([]byte(`{"Records":[{"eventSource":"aws:s3","s3":{"bucket":{"name":"b"},"object":{"key":"incoming/ok.csv"}}},` +
		`{"eventSource":"aws:s3","s3":{"bucket":{"name":"b"},"object":{"key":"incoming/100%.csv"}}},` +
		`{"eventSource":"aws:s3","s3":{"bucket":{"name":"b"},"object":{"key":"incoming/50%.csv"}}}]}`))
	if want := `S3 event notification: record 1: s3.object.key "incoming/100%.csv" is not URL-encoded as S3 sends keys (%25 for %, %2B for +, + for a space): invalid URL escape "%.c"`; err == nil || err.Error() != want {
		t.Errorf("a malformed escape in the key: %v\nwant %s", err, want)
	}
	objs, err := parseS3Event([]byte(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`))
	if err != nil || len(objs) != 1 || objs[0].Skip == "" {
		t.Errorf("a deletion is not skipped: %+v, %v", objs, err)
	}
}

// TestConfigFromEnvBlankDelimiters checks that a space or a raw tab in
// CSVSTREAM_DELIMITER is taken as the delimiter, not trimmed away.
func TestConfigFromEnvBlankDelimiters(t *testing.T) {
	for _, d := range []string{" ", "\t"} {
		env := map[string]string{EnvOutput: "s3://o/", EnvDelimiter: d}
		cfg, err := ConfigFromEnv(func(k string) string { return env[k] })
		if err != nil || cfg.Scan.Comma != d[0] {
			t.Errorf("delimiter %q: Comma %q, err %v", d, cfg.Scan.Comma, err)
		}
	}
}

// TestConfigFromEnvBounds checks each ranged variable at both ends of the
// range the README's configuration table gives and one step past each,
// and that a refusal names the variable and the range.
func TestConfigFromEnvBounds(t *testing.T) {
	tests := []struct {
		env, value string
		got        func(Config) any // the parsed value, when the value is accepted
		want       any
		refusal    string // the whole error, when the value is refused
	}{
		{env: EnvPartSize, value: "5MiB", got: func(c Config) any { return c.PartSize }, want: int64(5 << 20)},
		{env: EnvPartSize, value: "5GiB", got: func(c Config) any { return c.PartSize }, want: int64(5 << 30)},
		{env: EnvPartSize, value: "5242879", refusal: `CSVSTREAM_PART_SIZE="5242879": want a size from 5MiB to 5GiB, such as 8MiB`},
		{env: EnvPartSize, value: "5368709121", refusal: `CSVSTREAM_PART_SIZE="5368709121": want a size from 5MiB to 5GiB, such as 8MiB`},
		{env: EnvConcurrency, value: "1", got: func(c Config) any { return c.Concurrency }, want: 1},
		{env: EnvConcurrency, value: "64", got: func(c Config) any { return c.Concurrency }, want: 64},
		{env: EnvConcurrency, value: "65", refusal: `CSVSTREAM_CONCURRENCY="65": want a whole number from 1 to 64`},
		{env: EnvReadConcurrency, value: "1", got: func(c Config) any { return c.ReadConcurrency }, want: 1},
		{env: EnvReadConcurrency, value: "65", refusal: `CSVSTREAM_READ_CONCURRENCY="65": want a whole number from 1 to 64`},
		// The template's MaxRejectRatio allows 0 and 1 ("1 never fails").
		{env: EnvMaxRejectRatio, value: "0", got: func(c Config) any { return *c.MaxRejectRatio }, want: 0.0},
		{env: EnvMaxRejectRatio, value: "1", got: func(c Config) any { return *c.MaxRejectRatio }, want: 1.0},
		{env: EnvMaxRejectRatio, value: "-0.1", refusal: `CSVSTREAM_MAX_REJECT_RATIO="-0.1": want a number from 0 to 1`},
		{env: EnvMaxRejectRatio, value: "1.01", refusal: `CSVSTREAM_MAX_REJECT_RATIO="1.01": want a number from 0 to 1`},
		{env: EnvMaxRecordSize, value: "1B", got: func(c Config) any { return c.Scan.MaxRecordSize }, want: 1},
		{env: EnvMaxRecordSize, value: "1GiB", got: func(c Config) any { return c.Scan.MaxRecordSize }, want: 1 << 30},
		{env: EnvMaxRecordSize, value: "1073741825", refusal: `CSVSTREAM_MAX_RECORD_SIZE="1073741825": want a size from 1B to 1024MiB, such as 1MiB`},
		// At least 30m, here and in a sweep event.
		{env: EnvSweepOlderThan, value: "30m", got: func(c Config) any { return c.SweepOlderThan }, want: 30 * time.Minute},
		{env: EnvSweepOlderThan, value: "2562048h", refusal: `CSVSTREAM_SWEEP_OLDER_THAN: older than "2562048h": want a duration such as 24h or 90m, of at most 2562047h`},
		{env: EnvSweepOlderThan, value: "a day", refusal: `CSVSTREAM_SWEEP_OLDER_THAN: older than "a day": want a duration such as 24h or 90m, of at most 2562047h`},
		{env: EnvSweepOlderThan, value: "29m59s", refusal: `CSVSTREAM_SWEEP_OLDER_THAN: older than "29m59s": want a duration of at least 30m0s, such as 24h: a younger upload may belong to a job still running`},
		{env: EnvOutput, value: "", refusal: `CSVSTREAM_OUTPUT is required: where valid rows go, as s3://bucket/prefix/`},
		{env: EnvInputPrefix, value: "https://in.s3.amazonaws.com/incoming/", refusal: `CSVSTREAM_INPUT_PREFIX="https://in.s3.amazonaws.com/incoming/": want a key prefix such as incoming/, not a URL`},
		// Standard input is not read for a schema: it would wait at init.
		{env: EnvSchema, value: "-", refusal: `CSVSTREAM_SCHEMA="-": want s3://bucket/key or a path in the deployment package`},
		// A folder's name would be read as the schema by every job.
		{env: EnvSchema, value: "s3://in/schemas/", refusal: `CSVSTREAM_SCHEMA="s3://in/schemas/" ends with /: it names a folder; name the schema object, such as s3://in/schemas/schema.json`},
	}
	for _, tt := range tests {
		t.Run(tt.env+"="+tt.value, func(t *testing.T) {
			env := map[string]string{EnvOutput: "s3://o/"}
			env[tt.env] = tt.value
			cfg, err := ConfigFromEnv(envFunc(env))
			if tt.refusal != "" {
				if err == nil || err.Error() != tt.refusal {
					t.Fatalf("error %v\nwant %s", err, tt.refusal)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s=%s refused: %v", tt.env, tt.value, err)
			}
			if got := tt.got(cfg); got != tt.want {
				t.Errorf("%s=%s gives %v, want %v", tt.env, tt.value, got, tt.want)
			}
		})
	}
}

// TestConfigVariablesMatchReadme checks each variable ConfigFromEnv reads
// against the README's configuration table and the template, which set
// them by name: a renamed constant would leave the documented variable
// unread and the template's value ignored.
func TestConfigVariablesMatchReadme(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(readme), "| variable | default | meaning |")
	table, _, _ = strings.Cut(table, "\n\n")
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(CSVSTREAM_[A-Z_]+)` \\|").FindAllStringSubmatch(table, -1) {
		documented = append(documented, m[1])
	}
	tests := []struct{ constant, name string }{
		{EnvOutput, "CSVSTREAM_OUTPUT"},
		{EnvRejects, "CSVSTREAM_REJECTS"},
		{EnvSchema, "CSVSTREAM_SCHEMA"},
		{EnvInputPrefix, "CSVSTREAM_INPUT_PREFIX"},
		{EnvPartSize, "CSVSTREAM_PART_SIZE"},
		{EnvConcurrency, "CSVSTREAM_CONCURRENCY"},
		{EnvReadConcurrency, "CSVSTREAM_READ_CONCURRENCY"},
		{EnvMaxRejectRatio, "CSVSTREAM_MAX_REJECT_RATIO"},
		{EnvSweepOlderThan, "CSVSTREAM_SWEEP_OLDER_THAN"},
		{EnvDelimiter, "CSVSTREAM_DELIMITER"},
		{EnvMaxRecordSize, "CSVSTREAM_MAX_RECORD_SIZE"},
	}
	var names []string
	for _, tt := range tests {
		if tt.constant != tt.name {
			t.Errorf("ConfigFromEnv reads %s, but the README and the template set %s", tt.constant, tt.name)
		}
		names = append(names, tt.name)
	}
	if !slices.Equal(documented, names) {
		t.Errorf("the README's configuration table lists %v, want %v", documented, names)
	}
	// Set by the literal names, every variable is read.
	cfg, err := ConfigFromEnv(envFunc(map[string]string{
		"CSVSTREAM_OUTPUT": "s3://out/valid/", "CSVSTREAM_REJECTS": "s3://rej/bad/", "CSVSTREAM_SCHEMA": "s3://cfg/s.json",
		"CSVSTREAM_INPUT_PREFIX": "incoming/", "CSVSTREAM_PART_SIZE": "6MiB", "CSVSTREAM_CONCURRENCY": "3",
		"CSVSTREAM_READ_CONCURRENCY": "5", "CSVSTREAM_MAX_REJECT_RATIO": "0.5", "CSVSTREAM_SWEEP_OLDER_THAN": "2h",
		"CSVSTREAM_DELIMITER": ";", "CSVSTREAM_MAX_RECORD_SIZE": "2MiB",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxRejectRatio == nil || *cfg.MaxRejectRatio != 0.5 {
		t.Errorf("max reject ratio %v, want 0.5", cfg.MaxRejectRatio)
	}
	cfg.MaxRejectRatio = nil
	want := Config{
		Output: Prefix{"out", "valid/"}, Rejects: Prefix{"rej", "bad/"}, InputPrefix: "incoming/",
		SchemaLocation: csvstream.Location{Bucket: "cfg", Key: "s.json"}, PartSize: 6 << 20, Concurrency: 3, ReadConcurrency: 5,
		SweepOlderThan: 2 * time.Hour, Scan: csvstream.ScanOptions{Comma: ';', MaxRecordSize: 2 << 20},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config\n%+v\nwant\n%+v", cfg, want)
	}
}

// TestConfigFromEnvTrimsSpace checks that blanks around a value, such as
// a trailing newline pasted into the console, are ignored, except in the
// delimiter, which may be a space.
func TestConfigFromEnvTrimsSpace(t *testing.T) {
	schema := filepath.Join(t.TempDir(), "s.json")
	if err := os.WriteFile(schema, []byte(gen.Schema), 0o644); err != nil {
		t.Fatal(err)
	}
	pad := func(s string) string { return " \t" + s + " \n" }
	cfg, err := ConfigFromEnv(envFunc(map[string]string{
		EnvOutput: pad("s3://out/valid/"), EnvRejects: pad("s3://rej/bad/"), EnvSchema: pad(schema),
		EnvInputPrefix: pad("incoming/"), EnvPartSize: pad("6MiB"), EnvConcurrency: pad("3"), EnvReadConcurrency: pad("5"),
		EnvMaxRejectRatio: pad("0.5"), EnvSweepOlderThan: pad("2h"), EnvMaxRecordSize: pad("2MiB"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Schema == nil {
		t.Error("the local schema was not loaded")
	}
	if cfg.MaxRejectRatio == nil || *cfg.MaxRejectRatio != 0.5 {
		t.Errorf("max reject ratio %v, want 0.5", cfg.MaxRejectRatio)
	}
	cfg.Schema, cfg.MaxRejectRatio = nil, nil
	want := Config{
		Output: Prefix{"out", "valid/"}, Rejects: Prefix{"rej", "bad/"}, InputPrefix: "incoming/",
		SchemaLocation: csvstream.Location{Path: schema}, PartSize: 6 << 20, Concurrency: 3, ReadConcurrency: 5,
		SweepOlderThan: 2 * time.Hour, Scan: csvstream.ScanOptions{MaxRecordSize: 2 << 20},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config\n%+v\nwant\n%+v", cfg, want)
	}
}

// TestDefaultDeadlineMargin checks the README's "a job and its uploads
// stop 10 seconds before it, and aborting the uploads is given until 5
// seconds before it" for a Config that leaves DeadlineMargin zero.
func TestDefaultDeadlineMargin(t *testing.T) {
	h := New(Config{Output: Prefix{"out", "valid/"}, Log: io.Discard}, nil)
	deadline := time.Now().Add(time.Minute)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	inv := h.newInvocation(ctx)
	defer inv.cancel()
	if got, _ := inv.jobCtx.Deadline(); !got.Equal(deadline.Add(-5 * time.Second)) {
		t.Errorf("cleanup deadline %v before the invocation's, want 5s", deadline.Sub(got))
	}
	if want := 10 * time.Second / 4; inv.writerMargin != want {
		t.Errorf("writer margin %v, want %v, a quarter of the 10s margin", inv.writerMargin, want)
	}
}

// TestCheckOptions checks that a Config built in Go with an option out of
// range is caught before a job, as the handler's fault, naming the Config.
func TestCheckOptions(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"zero", Config{}, ""},
		{"in range", Config{Scan: csvstream.ScanOptions{Comma: ';', MaxRecordSize: 1 << 30}, PartSize: 5 << 30, Concurrency: 64, ReadConcurrency: 64}, ""},
		{"scan delimiter", Config{Scan: csvstream.ScanOptions{Comma: '"'}}, "the handler's Config.Scan"},
		{"scan record size", Config{Scan: csvstream.ScanOptions{MaxRecordSize: 1<<30 + 1}}, "the handler's Config.Scan"},
		{"part size", Config{PartSize: 5<<20 - 1}, "the handler's Config"},
		{"concurrency", Config{Concurrency: 65}, "the handler's Config"},
		{"read concurrency", Config{ReadConcurrency: 65}, "the handler's Config"},
		{"reject ratio", Config{MaxRejectRatio: ptr(1.5)}, "the handler's Config: MaxRejectRatio 1.5"},
		// Both ends of the range CSVSTREAM_MAX_REJECT_RATIO takes: 0 fails
		// on any reject, 1 never fails.
		{"reject ratio zero", Config{MaxRejectRatio: ptr(0.0)}, ""},
		{"reject ratio one", Config{MaxRejectRatio: ptr(1.0)}, ""},
		{"reject ratio below zero", Config{MaxRejectRatio: ptr(-0.1)}, "the handler's Config: MaxRejectRatio -0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.checkOptions()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("checkOptions: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("checkOptions: %v, want an error starting %q", err, tt.want)
			}
		})
	}
}

// TestEventNameBound checks the bound of an event's names at its edge: a
// value as long as the longest s3:// URL, 1,093 bytes, is taken, and one
// byte more is refused.
func TestEventNameBound(t *testing.T) {
	dst := "s3://" + strings.Repeat("b", 63) + "/" + strings.Repeat("k", 1024)
	if len(dst) != 1093 {
		t.Fatalf("the longest URL is %d bytes", len(dst))
	}
	if _, err := parseDirect([]byte(`{"bucket":"b","key":"k","destination":"` + dst + `"}`)); err != nil {
		t.Errorf("a destination of 1,093 bytes: %v", err)
	}
	if _, err := parseDirect([]byte(`{"bucket":"b","key":"k","destination":"` + dst + `k"}`)); err == nil || !strings.Contains(err.Error(), `"destination" is 1094 bytes long`) {
		t.Errorf("a destination of 1,094 bytes: %v, want it refused", err)
	}
}

// TestQuoteValue checks how a message quotes an event's value: whole up to
// 80 bytes, and past that cut to at most 80 on a character boundary, with
// "..." after.
func TestQuoteValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{strings.Repeat("a", 80), `"` + strings.Repeat("a", 80) + `"`},
		{strings.Repeat("a", 81), `"` + strings.Repeat("a", 80) + `"...`},
		{strings.Repeat("a", 78) + "é", `"` + strings.Repeat("a", 78) + `é"`},
		// A character that would end past byte 80 is left out whole.
		{strings.Repeat("a", 79) + "é", `"` + strings.Repeat("a", 79) + `"...`},
	}
	for _, tt := range tests {
		if got := quoteValue(tt.in); got != tt.want {
			t.Errorf("quoteValue(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
