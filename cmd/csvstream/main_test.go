package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/csvstream/csvstream/csvstream"
	"github.com/csvstream/csvstream/internal/s3test"
)

// cli runs the command line in-process with env set for the test.
func cli(t *testing.T, env []string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return cliContext(t, context.Background(), env, stdin, args...)
}

// cliContext is cli under ctx, as when an interrupt cancels it.
func cliContext(t *testing.T, ctx context.Context, env []string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	var out, errb bytes.Buffer
	code = Main(ctx, args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"schema from standard input", []string{"run", "--schema", "-", "in.csv", "out.csv"}, "--schema -: a schema cannot be read from standard input: give a path or s3:// URL"},
		{"bad flag value", []string{"run", "--max-reject-ratio", "abc", "in.csv", "out.csv"}, `invalid value "abc" for flag -max-reject-ratio`},
		{"sweep without a prefix", []string{"sweep"}, "sweep needs at least one s3://bucket/prefix"},
		{"invoke without an event", []string{"invoke"}, "invoke needs one EVENT.json"},
		{"no command", nil, "csvstream: no command given"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"missing DST", []string{"run", "in.csv"}, "run needs SRC and DST"},
		{"bad scheme", []string{"run", "gs://b/k", "out.csv"}, "unsupported scheme"},
		{"small part size", []string{"run", "--part-size", "1MiB", "in.csv", "s3://b/k"}, "below S3's minimum part size"},
		{"large part size", []string{"run", "--part-size", "6GiB", "in.csv", "s3://b/k"}, "above S3's maximum part size"},
		{"bad part size", []string{"run", "--part-size", "lots", "in.csv", "s3://b/k"}, `size "lots"`},
		{"bad delimiter", []string{"run", "--delimiter", "ab", "in.csv", "out.csv"}, "--delimiter"},
		{"stdout without rejects", []string{"run", "in.csv", "-"}, "--rejects is required"},
		{"bad concurrency", []string{"run", "--concurrency", "0", "in.csv", "out.csv"}, "--concurrency"},
		{"bad read concurrency", []string{"run", "--read-concurrency", "65", "in.csv", "out.csv"}, "--read-concurrency"},
		{"bad ratio", []string{"run", "--max-reject-ratio", "2", "in.csv", "out.csv"}, "--max-reject-ratio"},
		{"NaN ratio", []string{"run", "--max-reject-ratio", "NaN", "in.csv", "out.csv"}, "--max-reject-ratio"},
		{"negative max rejects", []string{"run", "--max-rejects", "-5", "in.csv", "out.csv"}, "--max-rejects"},
		{"unknown flag", []string{"run", "--nope", "in.csv", "out.csv"}, "flag provided but not defined"},
		{"infer without SRC", []string{"infer"}, "infer needs SRC"},
		{"infer record size", []string{"infer", "--max-record-size", "0", "in.csv"}, `--max-record-size "0"`},
		{"empty schema", []string{"run", "--schema=", "in.csv", "out.csv"}, "--schema is empty"},
		{"empty rejects", []string{"run", "--rejects=", "in.csv", "out.csv"}, "--rejects is empty"},
		{"empty rejects with a schema", []string{"run", "--rejects=", "--schema", "s.json", "in.csv", "out.csv"}, "--rejects is empty"},
		{"infer rows zero", []string{"infer", "--rows", "0", "in.csv"}, "--rows 0: want at least 1"},
		{"sweep age zero", []string{"sweep", "--older-than", "0s", "s3://b/p/"}, "--older-than 0s: want a positive duration"},
		{"empty rejects, DST stdout", []string{"run", "--rejects", "", "in.csv", "-"}, "--rejects is empty: DST is -, so give a path or s3:// URL for the rejects"},
		{"empty rejects, DST another descriptor", []string{"run", "--rejects", "", "in.csv", "/dev/fd/3"}, "--rejects is empty: DST is /dev/fd/3, so give a path or s3:// URL for the rejects"},
		{"flag after the arguments", []string{"run", "in.csv", "out.csv", "--format", "jsonl"}, "--format comes after the arguments"},
		{"-- after an argument", []string{"run", "in.csv", "--", "-out.csv"}, "-- comes after an argument: put it before the first, where it ends the flags"},
		{"rejects and DST both stdout", []string{"run", "--rejects", "-", "in.csv", "-"}, "--rejects cannot be - when DST is -"},
		{"folder as DST", []string{"run", "in.csv", "s3://b/valid/"}, "DST s3://b/valid/ ends with /: name the object, such as s3://b/valid/data.csv"},
		{"folder as rejects", []string{"run", "--rejects", "s3://b/rej/", "in.csv", "s3://b/k"}, "--rejects s3://b/rej/ ends with /"},
		{"folder as SRC", []string{"run", "s3://b/incoming/", "out.csv"}, "SRC s3://b/incoming/ ends with /"},
		{"escape sequence in a name", []string{"run", "in.csv", "s3://b/\x1b[31mk/"}, `DST s3://b/\x1b[31mk/ ends with /`},
		{"folder as schema", []string{"run", "--schema", "s3://b/schemas/", "in.csv", "out.csv"}, "--schema s3://b/schemas/ ends with /: name the object, such as s3://b/schemas/schema.json"},
		{"infer from a folder", []string{"infer", "s3://b/incoming/"}, "SRC s3://b/incoming/ ends with /"},
		{"extra argument", []string{"run", "in.csv", "out.csv", "more.csv"}, "run needs SRC and DST, got 3 arguments"},
		{"infer extra argument", []string{"infer", "a.csv", "b.csv"}, "infer needs SRC, got 2 arguments"},
		{"concurrency above the limit", []string{"run", "--concurrency", "65", "in.csv", "out.csv"}, "--concurrency 65: want 1 to 64"},
		{"read concurrency zero", []string{"run", "--read-concurrency", "0", "in.csv", "out.csv"}, "--read-concurrency 0: want 1 to 64"},
		{"unknown format", []string{"run", "--format", "xml", "in.csv", "out.csv"}, `--format "xml": want csv or jsonl`},
		{"concurrency is decimal", []string{"run", "--concurrency", "0100", "in.csv", "out.csv"}, "--concurrency 100: want 1 to 64"},
		{"hexadecimal rows", []string{"infer", "--rows", "0x10", "in.csv"}, `invalid value "0x10" for flag -rows: want a whole number in decimal`},
		{"max rejects past int64", []string{"run", "--max-rejects", "9223372036854775808", "in.csv", "out.csv"}, `invalid value "9223372036854775808" for flag -max-rejects: out of range`},
		{"record size above the limit", []string{"run", "--max-record-size", "2GiB", "in.csv", "out.csv"}, `--max-record-size "2GiB": want a size from 1B to 1024MiB`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := cli(t, nil, "", tc.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q, want it to mention %q", stderr, tc.want)
			}
			// The error comes once, then one usage: the command's for a
			// mistake in a command's line, else the list of commands.
			if n := strings.Count(stderr, "csvstream: "); n != 1 {
				t.Errorf("stderr has %d error lines, want 1:\n%s", n, stderr)
			}
			wantUsage := usage
			if len(tc.args) > 0 && tc.args[0] != "frobnicate" {
				wantUsage = "usage: csvstream " + tc.args[0] + " "
			}
			if n := strings.Count(stderr, "usage:"); n != 1 || !strings.Contains(stderr, wantUsage) {
				t.Errorf("stderr\n%s\nwant one usage, starting %q", stderr, wantUsage)
			}
		})
	}
}

// TestHelp checks that an explicit request for help prints the usage on
// standard output, once, and exits with status 0.
func TestHelp(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"help"}, usage},
		{[]string{"--help"}, usage},
		{[]string{"-h"}, usage},
		{[]string{"-help"}, usage},
		{[]string{"run", "-h"}, "usage: csvstream run [flags] SRC DST"},
		{[]string{"run", "--help"}, "usage: csvstream run [flags] SRC DST"},
		{[]string{"run", "--schema", "s.json", "-help"}, "usage: csvstream run [flags] SRC DST"},
		{[]string{"run", "in.csv", "out.csv", "--help"}, "usage: csvstream run [flags] SRC DST"},
		{[]string{"infer", "in.csv", "-h"}, "usage: csvstream infer [flags] SRC"},
		{[]string{"infer", "in.csv", "-help"}, "usage: csvstream infer [flags] SRC"},
		{[]string{"infer", "-h"}, "usage: csvstream infer [flags] SRC"},
		{[]string{"sweep", "--help"}, "usage: csvstream sweep"},
		{[]string{"invoke", "-h"}, "usage: csvstream invoke"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := cli(t, nil, "", tc.args...)
			if code != exitOK || stderr != "" {
				t.Errorf("exit %d, stderr %q; want exit %d and nothing on stderr", code, stderr, exitOK)
			}
			if !strings.HasPrefix(stdout, tc.want) || strings.Count(stdout, "usage:") != 1 {
				t.Errorf("stdout\n%s\nwant one usage, starting %q", stdout, tc.want)
			}
			if len(tc.args) > 1 && !strings.Contains(stdout, "\nflags:\n") {
				t.Errorf("stdout\n%s\nwant the command's flags", stdout)
			}
		})
	}
}

// TestDoubleDashEndsFlags runs on files whose names start with "-": after
// "--" they are arguments, as the flag package has it.
func TestDoubleDashEndsFlags(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile("-in.csv", []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := cli(t, nil, "", "run", "--rejects", "r.csv", "--", "-in.csv", "-out.csv")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got, err := os.ReadFile("-out.csv"); err != nil || string(got) != "a,b\n1,2\n" {
		t.Errorf("-out.csv holds %q (%v)", got, err)
	}
}

func TestRunLocalToS3AndBack(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "cli")
	dir := t.TempDir()
	input := "id,note\n1,\"a,b\"\n2,\"line\nbreak\"\n3,x,extra\n"
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte(input), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := cli(t, srv.Env(), "", "run", in, "s3://"+bucket+"/out/in.csv")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sum map[string]any
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, stdout)
	}
	for _, k := range []string{"rows", "valid", "rejected", "bytes_in", "bytes_out", "parts", "etag"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary lacks %q: %s", k, stdout)
		}
	}
	if sum["rows"] != 3.0 || sum["valid"] != 2.0 || sum["rejected"] != 1.0 {
		t.Errorf("summary counts: %s", stdout)
	}
	if got, want := string(srv.Get(t, bucket, "out/in.csv")), "id,note\n1,\"a,b\"\n2,\"line\nbreak\"\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}

	// Back from S3 to standard output: the summary moves to stderr.
	code, stdout, stderr = cli(t, srv.Env(), "", "run", "--rejects", filepath.Join(dir, "rej.csv"), "s3://"+bucket+"/out/in.csv", "-")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "id,note\n1,\"a,b\"\n2,\"line\nbreak\"\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	if !strings.Contains(stderr, `"rows": 2`) {
		t.Errorf("stderr should carry the summary: %q", stderr)
	}

	// Local source and destination, rejects in S3: the job needs the
	// client for its rejects alone.
	out := filepath.Join(dir, "out.csv")
	code, _, stderr = cli(t, srv.Env(), "", "run", "--rejects", "s3://"+bucket+"/rejects/in.csv", in, out)
	if code != exitOK {
		t.Fatalf("rejects in S3: exit %d: %s", code, stderr)
	}
	if got, err := os.ReadFile(out); err != nil || string(got) != "id,note\n1,\"a,b\"\n2,\"line\nbreak\"\n" {
		t.Errorf("out.csv holds %q (%v)", got, err)
	}
	if got := string(srv.Get(t, bucket, "rejects/in.csv")); !strings.Contains(got, "extra-cell") {
		t.Errorf("rejects in S3 %q, want the extra cell", got)
	}
}

func TestRunFailureIsOneLine(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "clifail")
	code, stdout, stderr := cli(t, srv.Env(), "", "run", "s3://"+bucket+"/absent.csv", "s3://"+bucket+"/out.csv")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d", code, exitFailure)
	}
	if stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "absent.csv") {
		t.Errorf("want one error line naming the object on stderr, got stdout %q stderr %q", stdout, stderr)
	}
}

// TestFailureMessages checks the one line a failed job prints: each names
// the object once and says what went wrong.
func TestFailureMessages(t *testing.T) {
	t.Chdir(t.TempDir())
	files := map[string]string{
		"in.csv":   "id,name\n1,a\nx,b\n3,c\n",
		"dup.csv":  "a,a\n1,2\n",
		"s.json":   `{"fields": [{"name": "id", "type": "integer"}, {"name": "name"}]}`,
		"bad.json": "{\"fields\": [\n  {\"name\": \"id\" \"type\": \"integer\"}\n]}\n",
	}
	for name, text := range files {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir("adir", 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"directory as schema", []string{"run", "--schema", "adir", "in.csv", "out.csv"}, "schema error: adir is a directory"},
		{"schema syntax error", []string{"run", "--schema", "bad.json", "in.csv", "out.csv"},
			`schema error: bad.json: invalid JSON at line 2, column 17: invalid character '"' after object key:value pair`},
		{"directory as SRC", []string{"run", "adir", "out.csv"}, "invalid job: source: adir is a directory"},
		{"directory as DST", []string{"run", "in.csv", "adir"}, "invalid job: destination: adir is a directory"},
		// Only an S3 key ending in / is refused as a folder's name; a
		// local path is the file system's to judge.
		{"directory as DST, with a slash", []string{"run", "in.csv", "adir/"}, "invalid job: destination: adir/ is a directory"},
		{"infer from a directory", []string{"infer", "adir"}, "adir is a directory"},
		{"infer an unusable header", []string{"infer", "dup.csv"}, `dup.csv: infer: unusable header: line 1: column 2 label "a" repeats column 1`},
		{"reject limit", []string{"run", "--schema", "s.json", "--max-rejects", "0", "in.csv", "out.csv"},
			"too many rejected rows: in.csv: 1 row rejected by line 3, above the limit 0 (the rejects so far are in out.csv.rejects.csv)"},
		{"reject ratio", []string{"run", "--schema", "s.json", "--max-reject-ratio", "0.2", "in.csv", "out.csv"},
			"too many rejected rows: in.csv: 1 of 3 rows rejected (0.3333333333333333), above the limit 0.2 (the rejects so far are in out.csv.rejects.csv)"},
		// A missing event file is a failure, not a usage error.
		{"invoke a missing event file", []string{"invoke", "missing.json"}, "read event: open missing.json: no such file or directory"},
		{"a name holding an escape sequence", []string{"invoke", "\x1b[2Jx.json"}, `read event: open \x1b[2Jx.json: no such file or directory`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := cli(t, nil, "", tc.args...)
			if code != exitFailure || stdout != "" || stderr != "csvstream: "+tc.want+"\n" {
				t.Errorf("exit %d, stdout %q, stderr\n  %q\nwant exit %d, no stdout, stderr\n  %q", code, stdout, stderr, exitFailure, "csvstream: "+tc.want+"\n")
			}
		})
	}
}

// TestErrorLine: a message is printed on one line, with the control
// characters and stray bytes an S3 key or a file name may hold escaped.
func TestErrorLine(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"joined", errors.Join(errors.New("upload failed: s3://b/k: boom"), errors.New("abort s3://b/k: denied")),
			"upload failed: s3://b/k: boom; abort s3://b/k: denied"},
		{"escape sequence", errors.New("s3://b/a\x1b[2J\x1b]0;owned\a.csv: not found"), `s3://b/a\x1b[2J\x1b]0;owned\a.csv: not found`},
		{"carriage return", errors.New("s3://b/ok.csv\rfake: gone"), `s3://b/ok.csv\rfake: gone`},
		{"delete and C1", errors.New("k\x7f\u009b31m"), `k\x7f\u009b31m`},
		{"not UTF-8", errors.New("open caf\xe9.csv: no such file"), `open caf\xe9.csv: no such file`},
		{"tab and text kept", errors.New("row 2\tcolumn \"prix\": café ✓"), "row 2\tcolumn \"prix\": café ✓"},
	}
	for _, tt := range tests {
		if got := errorLine(tt.err); got != tt.want {
			t.Errorf("%s: errorLine = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestInferNoteEscapesName: a note names its source with the control
// characters a file name may hold escaped, as a failure's line does.
func TestInferNoteEscapesName(t *testing.T) {
	name := filepath.Join(t.TempDir(), "in\x1b[31m.csv")
	if err := os.WriteFile(name, []byte("a,b\n1,2\n3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := cli(t, nil, "", "infer", name)
	if code != exitOK || strings.Contains(stderr, "\x1b") || !strings.Contains(stderr, `in\x1b[31m.csv: `) {
		t.Errorf("exit %d, stderr %q; want a note naming in\\x1b[31m.csv", code, stderr)
	}
}

func TestInferPrintsSchema(t *testing.T) {
	// The row longer than --max-record-size is left out of the sample, so
	// that price stays a number.
	in := "id,price,when\n1,2.5,2024-01-02\n3,a long row that is no price at all,2024-01-03\n2,3,2024-02-29\n"
	code, stdout, stderr := cli(t, nil, in, "infer", "--max-record-size", "40", "-")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	fields := inferredFields(t, stdout)
	// The row left out is noted on stderr, which holds nothing else.
	if note := "csvstream: note: -: 1 record left out of the sample, not readable (quoting or size); the first starts on line 3\n"; stderr != note {
		t.Errorf("stderr %q, want %q", stderr, note)
	}
	want := []inferredField{{"id", "integer"}, {"price", "number"}, {"when", "date"}}
	if len(fields) != len(want) {
		t.Fatalf("fields %+v, want %+v", fields, want)
	}
	for i := range want {
		if fields[i] != want[i] {
			t.Errorf("field %d = %+v, want %+v", i, fields[i], want[i])
		}
	}
}

// TestInferKeepsLabelsAsWritten: the draft schema is for people to edit,
// so its names read as the header's labels do, not as \u0026 and the like.
func TestInferKeepsLabelsAsWritten(t *testing.T) {
	code, stdout, stderr := cli(t, nil, "R&D,<5 years,a>b\n1,2,3\n", "infer", "-")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, name := range []string{`"R&D"`, `"<5 years"`, `"a>b"`} {
		if !strings.Contains(stdout, `"name": `+name) {
			t.Errorf("the schema does not name %s as the header does:\n%s", name, stdout)
		}
	}
}

// TestInterruptedInferPrintsNoSchema interrupts infer whose input reads
// whole regardless, as standard input that is no pipe does: the sample may
// still be cut short for all infer knows, so it fails naming the stop and
// prints no schema, as an interrupted run publishes nothing.
func TestInterruptedInferPrintsNoSchema(t *testing.T) {
	interrupted, stop := context.WithCancelCause(context.Background())
	stop(errors.New("interrupt signal received"))
	for _, args := range [][]string{{"infer", "-"}, {"infer", "--rows", "1", "-"}} {
		code, stdout, stderr := cliContext(t, interrupted, nil, "id\n1\n2\n", args...)
		if code != exitFailure || stdout != "" || stderr != "csvstream: -: infer: stopped: interrupt signal received\n" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 1, no schema, and the stop named", args, code, stdout, stderr)
		}
	}
}

// TestRunSummaryKeepsNamesAsWritten: the summary names the locations as
// given, & < and > included, not as \u0026 and the like.
func TestRunSummaryKeepsNamesAsWritten(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile("R&D <2026>.csv", []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := cli(t, nil, "", "run", "R&D <2026>.csv", "R&D out.csv")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{`"source": "R&D <2026>.csv"`, `"destination": "R&D out.csv"`, `"rejects": "R&D out.csv.rejects.csv"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary %s\nwant it to hold %s", stdout, want)
		}
	}
}

// inferredField is a field of the schema infer prints, as far as the tests
// look at it.
type inferredField struct{ Name, Type string }

// inferredFields reads the fields of the schema infer printed.
func inferredFields(t *testing.T, stdout string) []inferredField {
	t.Helper()
	var s struct {
		Fields []inferredField `json:"fields"`
	}
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	return s.Fields
}

// TestInferFlags checks that infer's flags shape the sample it reads.
func TestInferFlags(t *testing.T) {
	cases := []struct {
		name  string
		input string
		flags []string
		want  []inferredField
	}{
		{"rows", "id\n1\nx\n", []string{"--rows", "1"}, []inferredField{{"id", "integer"}}},
		{"all rows by default", "id\n1\nx\n", nil, []inferredField{{"id", "string"}}},
		{"delimiter", "id;name\n1;a\n", []string{"--delimiter", ";"}, []inferredField{{"id", "integer"}, {"name", "string"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"infer"}, tc.flags...), "-")
			code, stdout, stderr := cli(t, nil, tc.input, args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if fields := inferredFields(t, stdout); !slices.Equal(fields, tc.want) {
				t.Errorf("fields %+v, want %+v", fields, tc.want)
			}
		})
	}
}

// TestRunFlagsReachTheJob runs local jobs whose flags change what is
// written: each flag must reach the job.
func TestRunFlagsReachTheJob(t *testing.T) {
	long := "3," + strings.Repeat("x", 40) + "\n"
	cases := []struct {
		name        string
		input       string
		flags       []string
		wantOut     string
		wantRejects string // a line of the rejects
	}{
		{"delimiter", "a;b\n1;2\n3\n", []string{"--delimiter", ";"}, "a;b\n1;2\n", "3,2,missing-cell,b,"},
		{"tab delimiter", "a\tb\n1\t2\n3\n", []string{"--delimiter", "tab"}, "a\tb\n1\t2\n", "3,2,missing-cell,b,"},
		{"max record size", "a,b\n1,2\n" + long, []string{"--max-record-size", "20"}, "a,b\n1,2\n", "3,2,record-too-large,"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			if err := os.WriteFile("in.csv", []byte(tc.input), 0o644); err != nil {
				t.Fatal(err)
			}
			args := append(append([]string{"run"}, tc.flags...), "in.csv", "out.csv")
			if code, _, stderr := cli(t, nil, "", args...); code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if got, err := os.ReadFile("out.csv"); err != nil || string(got) != tc.wantOut {
				t.Errorf("out.csv holds %q (%v), want %q", got, err, tc.wantOut)
			}
			if got, err := os.ReadFile("out.csv.rejects.csv"); err != nil || !strings.Contains(string(got), "\n"+tc.wantRejects) {
				t.Errorf("rejects hold %q (%v), want a line starting %q", got, err, tc.wantRejects)
			}
		})
	}
}

// failingWriter fails every write, as standard output on a full disk does.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestSummaryUnprinted runs a job that succeeds but cannot print its
// summary: exit 1, with a line that says the outputs are written, and the
// outputs there.
func TestSummaryUnprinted(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.csv"), filepath.Join(dir, "out.csv")
	if err := os.WriteFile(src, []byte("a,b\n1,2\n3\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	code := Main(context.Background(), []string{"run", src, dst}, strings.NewReader(""), failingWriter{}, &stderr)
	if code != exitFailure {
		t.Errorf("exit %d, want %d", code, exitFailure)
	}
	if msg := stderr.String(); !strings.Contains(msg, "the job succeeded and its outputs are written, but its summary could not be printed: no space left on device") {
		t.Errorf("stderr %q: want the job's success and the failed print", msg)
	}
	for _, p := range []string{dst, dst + ".rejects.csv"} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("output: %v", err)
		}
	}
}

// TestLocalJobNeedsNoAWSConfig runs jobs with no s3:// location under an
// AWS configuration that cannot be loaded: they must not read it.
func TestLocalJobNeedsNoAWSConfig(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte("id,name\n1,a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	schema := filepath.Join(dir, "schema.json")
	if err := os.WriteFile(schema, []byte(`{"fields":[{"name":"id","type":"integer"},{"name":"name"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"AWS_PROFILE=no-such-profile", "AWS_CONFIG_FILE=" + filepath.Join(dir, "none"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none")}
	for _, args := range [][]string{
		{"run", in, filepath.Join(dir, "out.csv")},
		{"run", "--schema", schema, "--rejects", filepath.Join(dir, "r.csv"), "-", "-"},
		{"infer", in},
	} {
		code, _, stderr := cli(t, env, "id,name\n1,a\n", args...)
		if code != exitOK {
			t.Errorf("%v: exit %d, stderr %q; want 0 for a job that touches no S3", args, code, stderr)
		}
	}
	// A job that does touch S3 still reports the configuration's failure.
	code, _, stderr := cli(t, env, "", "run", in, "s3://b/out.csv")
	if code != exitFailure || !strings.Contains(stderr, "no-such-profile") {
		t.Errorf("S3 destination: exit %d, stderr %q; want 1 naming the profile", code, stderr)
	}
}

// TestMissingCredentialsAreNotMissingObjects runs S3 jobs where the only
// source of credentials is an instance metadata service with no role, as
// on an EC2 instance without an instance profile. Its 404 is not S3's:
// the job must not say the object does not exist, and must keep the cause.
func TestMissingCredentialsAreNotMissingObjects(t *testing.T) {
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut { // the IMDSv2 session token
			w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "21600")
			io.WriteString(w, "token")
			return
		}
		http.NotFound(w, r) // no role attached
	}))
	defer imds.Close()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte("id\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	none := filepath.Join(dir, "none")
	env := []string{
		"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "AWS_PROFILE=",
		"AWS_CONFIG_FILE=" + none, "AWS_SHARED_CREDENTIALS_FILE=" + none,
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=", "AWS_CONTAINER_CREDENTIALS_FULL_URI=", "AWS_WEB_IDENTITY_TOKEN_FILE=",
		"AWS_EC2_METADATA_DISABLED=false", "AWS_EC2_METADATA_SERVICE_ENDPOINT=" + imds.URL,
		"AWS_REGION=us-east-1", "AWS_ENDPOINT_URL_S3=http://127.0.0.1:1", "AWS_S3_FORCE_PATH_STYLE=true",
	}
	for _, args := range [][]string{
		{"run", "--schema", "s3://bucket/schema.json", in, filepath.Join(dir, "out.csv")},
		{"run", "s3://bucket/in.csv", filepath.Join(dir, "out.csv")},
		{"infer", "s3://bucket/in.csv"},
	} {
		code, _, stderr := cli(t, env, "", args...)
		if code != exitFailure || strings.Contains(stderr, "does not exist") || strings.Contains(stderr, "not found") ||
			!strings.Contains(stderr, "no EC2 IMDS role found") {
			t.Errorf("%v: exit %d, stderr %q; want 1, giving the missing role, not a missing object", args, code, stderr)
		}
	}
}

// TestFlagLimitsAccepted runs local jobs with each flag at the edge of
// the range its usage gives: every edge is accepted.
func TestFlagLimitsAccepted(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile("in.csv", []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, flags := range [][]string{
		{"--part-size", "5MiB"},
		{"--part-size", "5GiB"},
		{"--concurrency", "64"},
		{"--read-concurrency", "64"},
		{"--max-reject-ratio", "0"},
		{"--max-reject-ratio", "1"},
		{"--max-record-size", "1GiB"},
	} {
		args := append(append([]string{"run"}, flags...), "in.csv", "out.csv")
		if code, _, stderr := cli(t, nil, "", args...); code != exitOK {
			t.Errorf("%v: exit %d, stderr %q; want 0", flags, code, stderr)
		}
	}
}

// TestRunPartSizeReachesTheJob uploads the same 11 MiB source with
// --part-size 5MiB and with the default 8MiB: the summary's part count
// shows which part size the job used.
func TestRunPartSizeReachesTheJob(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "partsize")
	in := filepath.Join(t.TempDir(), "in.csv")
	row := "1," + strings.Repeat("x", 1022) + "\n"
	if err := os.WriteFile(in, []byte("id,note\n"+strings.Repeat(row, 11<<10)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flags []string
		parts float64
	}{
		{[]string{"--part-size", "5MiB"}, 3},
		{nil, 2},
	} {
		args := append(append([]string{"run"}, tc.flags...), in, "s3://"+bucket+"/out.csv")
		code, stdout, stderr := cli(t, srv.Env(), "", args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", tc.flags, code, stderr)
		}
		var sum map[string]any
		if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
			t.Fatalf("%v: summary is not JSON: %v\n%s", tc.flags, err, stdout)
		}
		if sum["parts"] != tc.parts {
			t.Errorf("%v: %v parts, want %v", tc.flags, sum["parts"], tc.parts)
		}
	}
}

// TestRunJSONLinesCLI writes JSON Lines through the command line.
func TestRunJSONLinesCLI(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile("in.csv", []byte("a,b\n1,x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := cli(t, nil, "", "run", "--format", "jsonl", "in.csv", "out.jsonl")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got, err := os.ReadFile("out.jsonl"); err != nil || string(got) != `{"a":"1","b":"x"}`+"\n" {
		t.Errorf("out.jsonl holds %q (%v)", got, err)
	}
}

// TestSummaryNotLostToDefaultRejects redirects standard output to the file
// the default rejects (DST + .rejects.csv) replace, as
// `csvstream run in.csv out.csv > out.csv.rejects.csv` does. The job
// replaces that file by a rename, so a summary printed on standard output
// lands in the unlinked old file and is lost. With --rejects naming the same
// file, the summary goes to stderr; the default rejects must do the same.
func TestSummaryNotLostToDefaultRejects(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.csv"), filepath.Join(dir, "out.csv")
	if err := os.WriteFile(src, []byte("a,b\n1,2\n3\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"run", "--rejects", dst + ".rejects.csv", src, dst},
		{"run", src, dst}, // the same rejects, by default
	} {
		stdout, err := os.Create(dst + ".rejects.csv")
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		code := Main(context.Background(), args, strings.NewReader(""), stdout, &stderr)
		stdout.Close()
		if code != exitOK {
			t.Fatalf("%q: exit %d: %s", args, code, stderr.String())
		}
		if !strings.Contains(stderr.String(), `"rows": 2`) {
			t.Errorf("%q: stderr %q, want the summary there", args, stderr.String())
		}
	}
}

// TestInferredWideSchemaLoads: a schema infer drafts from a header that
// run reads (90,000 columns, 630 KB, within the default --max-record-size)
// must load in run, which refuses a schema over 8 MiB.
func TestInferredWideSchemaLoads(t *testing.T) {
	const n = 90000
	var in strings.Builder
	for i := range n {
		if i > 0 {
			in.WriteByte(',')
		}
		in.WriteString("c" + strconv.Itoa(100000 + i)[1:])
	}
	in.WriteString("\n")
	for i := range n {
		if i > 0 {
			in.WriteByte(',')
		}
		in.WriteByte('0' + byte(i%10))
	}
	in.WriteString("\n")
	dir := t.TempDir()
	src := filepath.Join(dir, "wide.csv")
	if err := os.WriteFile(src, []byte(in.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := cli(t, nil, "", "infer", src)
	if code != exitOK {
		t.Fatalf("infer: exit %d: %s", code, stderr)
	}
	schema := filepath.Join(dir, "wide.schema.json")
	if err := os.WriteFile(schema, []byte(stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = cli(t, nil, "", "run", "--schema", schema, src, filepath.Join(dir, "out.csv"))
	if code != exitOK {
		t.Errorf("run with the schema infer drafted (%d bytes): exit %d: %s", len(stdout), code, stderr)
	}
}

// TestDraftJSON: infer's draft is indented, unless that passes the size
// run loads; then it is the same schema on one line.
func TestDraftJSON(t *testing.T) {
	s, err := csvstream.ParseSchema([]byte(`{"fields": [{"name": "id", "type": "integer"}, {"name": "R&D"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	indented, err := draftJSON(s, 1<<20)
	if err != nil || !bytes.Contains(indented, []byte("\n  \"fields\": [\n")) || !bytes.Contains(indented, []byte(`"R&D"`)) {
		t.Fatalf("under the limit: %q, %v; want indented JSON with R&D as written", indented, err)
	}
	for _, limit := range []int{len(indented) - 1, 10} {
		compact, err := draftJSON(s, limit)
		if err != nil || bytes.Count(compact, []byte("\n")) != 1 || len(compact) >= len(indented) {
			t.Errorf("limit %d: %q, %v; want one line", limit, compact, err)
		}
		if back, err := csvstream.ParseSchema(compact); err != nil || !reflect.DeepEqual(back, s) {
			t.Errorf("limit %d: the line reads back as %+v, %v; want %+v", limit, back, err, s)
		}
	}
}
