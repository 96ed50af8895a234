package csvstream_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/csvstream/csvstream/csvstream"
	"github.com/csvstream/csvstream/internal/faultproxy"
	"github.com/csvstream/csvstream/internal/gen"
	"github.com/csvstream/csvstream/internal/leakcheck"
	"github.com/csvstream/csvstream/internal/proctest"
	"github.com/csvstream/csvstream/internal/s3test"
)

// runLocal runs a job from an in-memory source to files in a temp dir and
// returns the summary, the error, and the two outputs.
func runLocal(t *testing.T, input string, job csvstream.Job) (csvstream.Summary, error, string, string) {
	t.Helper()
	dir := t.TempDir()
	job.Source = csvstream.Stdio
	job.Stdin = strings.NewReader(input)
	job.Destination = csvstream.Location{Path: filepath.Join(dir, "out.csv")}
	sum, err := csvstream.Run(context.Background(), nil, job)
	return sum, err, readIfExists(t, job.Destination.Path), readIfExists(t, job.Destination.Path+csvstream.RejectsSuffix)
}

func readIfExists(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "<none>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustSchema(t testing.TB, js string) *csvstream.Schema {
	t.Helper()
	s, err := csvstream.ParseSchema([]byte(js))
	if err != nil {
		t.Fatalf("schema: %v", err)
	}
	return s
}

const peopleSchema = `{"fields": [
  {"name": "id", "type": "integer", "constraints": {"required": true, "unique": true}},
  {"name": "name", "type": "string", "constraints": {"required": true}},
  {"name": "age", "type": "integer", "constraints": {"minimum": 0, "maximum": 150}}
]}`

func TestRunWellFormedCopiesBytes(t *testing.T) {
	cases := []struct{ name, input string }{
		{"lf", "a,b\n1,2\n3,4\n"},
		{"crlf", "a,b\r\n1,2\r\n3,4\r\n"},
		{"no final newline", "a,b\n1,2\n3,4"},
		{"quoted newline and comma", "a,b\n\"x\r\ny\",\"1,2\"\n"},
		{"bom", "\xef\xbb\xbfa,b\n1,2\n"},
		{"header only", "a,b\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sum, err, out, rej := runLocal(t, tc.input, csvstream.Job{})
			if err != nil {
				t.Fatal(err)
			}
			if out != tc.input {
				t.Errorf("output %q, want the input %q", out, tc.input)
			}
			if rej != "line,record,error,field,message,raw\n" {
				t.Errorf("rejects %q, want the header only", rej)
			}
			if sum.Rows != sum.Valid || sum.Rejected != 0 || sum.BytesIn != int64(len(tc.input)) || sum.BytesOut != int64(len(tc.input)) {
				t.Errorf("summary %+v does not match a full copy of %d bytes", sum, len(tc.input))
			}
		})
	}
}

func TestRunRejectsAndReconciles(t *testing.T) {
	input := "id,name,age\n" +
		"1,Ann,30\n" +
		"2,,abc\n" + // two errors: name required, age not an integer
		"1,Bob,40\n" + // repeats id 1
		"3,\"Cy, \"\"the\"\" third\",20,extra\n" +
		"4,Dee,22\n"
	sum, err, out, rej := runLocal(t, input, csvstream.Job{Schema: mustSchema(t, peopleSchema)})
	if err != nil {
		t.Fatal(err)
	}
	if want := "id,name,age\n1,Ann,30\n4,Dee,22\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	recs, err := csv.NewReader(strings.NewReader(rej)).ReadAll()
	if err != nil {
		t.Fatalf("rejects are not valid CSV: %v\n%s", err, rej)
	}
	type row struct{ line, record, code, field, raw string }
	want := []row{
		{"line", "record", "error", "field", "raw"},
		{"3", "2", "constraint-error", "name", "2,,abc"},
		{"3", "2", "type-error", "age", "2,,abc"},
		{"4", "3", "unique-error", "id", "1,Bob,40"},
		{"5", "4", "extra-cell", "", `3,"Cy, ""the"" third",20,extra`},
	}
	if len(recs) != len(want) {
		t.Fatalf("rejects have %d lines, want %d:\n%s", len(recs), len(want), rej)
	}
	for i, w := range want {
		got := row{recs[i][0], recs[i][1], recs[i][2], recs[i][3], recs[i][5]}
		if got != w {
			t.Errorf("rejects line %d = %+v, want %+v", i, got, w)
		}
		if i > 0 && recs[i][4] == "" {
			t.Errorf("rejects line %d has no message", i)
		}
	}
	if sum.Rows != 5 || sum.Valid != 2 || sum.Rejected != 3 || sum.Rows != sum.Valid+sum.Rejected {
		t.Errorf("summary counts %+v, want rows 5 = valid 2 + rejected 3", sum)
	}
	wantCodes := map[string]int64{"constraint-error": 1, "type-error": 1, "unique-error": 1, "extra-cell": 1}
	if len(sum.RejectsByCode) != len(wantCodes) {
		t.Errorf("rejects by code %v, want %v", sum.RejectsByCode, wantCodes)
	}
	for c, n := range wantCodes {
		if sum.RejectsByCode[c] != n {
			t.Errorf("rejects by code %v, want %v", sum.RejectsByCode, wantCodes)
		}
	}
}

// TestRunRejectsQuoteBareCR checks that a rejects field holding a CR
// alone is quoted: many CSV readers end a line there.
func TestRunRejectsQuoteBareCR(t *testing.T) {
	// A row of one cell holding a CR, under a header of two: its raw
	// column holds no comma or quote that would make it quoted anyway.
	_, err, _, rej := runLocal(t, "id,name\n1\rx\n", csvstream.Job{})
	if err != nil {
		t.Fatal(err)
	}
	if want := ",\"1\rx\"\n"; !strings.HasSuffix(rej, want) {
		t.Errorf("rejects %q, want the raw column quoted: %q at the end", rej, want)
	}
}

func TestRunLargeGeneratedFileReconciles(t *testing.T) {
	var src bytes.Buffer
	counts, err := gen.Orders(&src, gen.Options{Rows: 200_000, InvalidEvery: 97, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	sum, err, out, rej := runLocal(t, src.String(), csvstream.Job{Schema: mustSchema(t, gen.Schema)})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != int64(counts.Rows) || sum.Valid != int64(counts.Valid) || sum.Rejected != int64(counts.Invalid) {
		t.Fatalf("summary rows/valid/rejected = %d/%d/%d, generator wrote %d/%d/%d",
			sum.Rows, sum.Valid, sum.Rejected, counts.Rows, counts.Valid, counts.Invalid)
	}
	for code, n := range counts.ByCode {
		if sum.RejectsByCode[code] != int64(n) {
			t.Errorf("%s: %d rejected, generator made %d", code, sum.RejectsByCode[code], n)
		}
	}
	if len(sum.RejectsByCode) != len(counts.ByCode) {
		t.Errorf("rejects by code %v, generator made %v", sum.RejectsByCode, counts.ByCode)
	}
	// Every valid record is in the output and nothing else: the output
	// re-validates with no rejects, and its rows plus the rejects make up the input.
	again, err, _, _ := runLocal(t, out, csvstream.Job{Schema: mustSchema(t, gen.Schema)})
	if err != nil || again.Rejected != 0 || again.Rows != sum.Valid {
		t.Fatalf("output re-validated: %+v, %v; want %d valid rows", again, err, sum.Valid)
	}
	rejRecs, err := csv.NewReader(strings.NewReader(rej)).ReadAll()
	if err != nil {
		t.Fatalf("rejects are not valid CSV: %v", err)
	}
	// gen makes each invalid row with exactly one error: one line each.
	records := map[string]bool{}
	for _, r := range rejRecs[1:] {
		records[r[1]] = true
	}
	if len(rejRecs)-1 != counts.Invalid || len(records) != counts.Invalid {
		t.Fatalf("rejects have %d lines for %d records, want one for each of %d invalid rows", len(rejRecs)-1, len(records), counts.Invalid)
	}
	if int64(len(out)) != sum.BytesOut || int64(src.Len()) != sum.BytesIn {
		t.Errorf("bytes in/out %d/%d, want %d/%d", sum.BytesIn, sum.BytesOut, src.Len(), len(out))
	}
}

// TestRunRejectRatioShownInFull passes a ratio limit by less than four
// digits show: the message gives the ratio in full, so that it reads as
// above the limit.
func TestRunRejectRatioShownInFull(t *testing.T) {
	limit := 0.33333
	_, err, _, _ := runLocal(t, "id,name,age\n1,a,1\nx,b,2\n3,c,3\n", csvstream.Job{Schema: mustSchema(t, peopleSchema), MaxRejectRatio: &limit})
	if !errors.Is(err, csvstream.ErrTooManyRejects) || !strings.Contains(err.Error(), "1 of 3 rows rejected (0.3333333333333333), above the limit 0.33333") {
		t.Errorf("err %v, want ErrTooManyRejects giving the ratio in full", err)
	}
}

func TestRunRejectLimits(t *testing.T) {
	input := "id,name,age\n1,a,1\nx,b,2\ny,c,3\n4,d,4\n"
	one, half, tenth, nearHalf := int64(1), 0.5, 0.1, 0.49999
	cases := []struct {
		name     string
		job      csvstream.Job
		wantFail bool
		msg      string // the error's start; the rejects location follows
	}{
		{"count not reached", csvstream.Job{MaxRejects: new(int64(2))}, false, ""},
		{"count passed", csvstream.Job{MaxRejects: &one}, true,
			"too many rejected rows: -: 2 rows rejected by line 4, above the limit 1 (the rejects so far are in "},
		{"ratio not reached", csvstream.Job{MaxRejectRatio: &half}, false, ""},
		{"ratio of one, which no job passes", csvstream.Job{MaxRejectRatio: new(1.0)}, false, ""},
		{"ratio passed", csvstream.Job{MaxRejectRatio: &tenth}, true,
			"too many rejected rows: -: 2 of 4 rows rejected (0.5), above the limit 0.1 (the rejects so far are in "},
		{"ratio just passed", csvstream.Job{MaxRejectRatio: &nearHalf}, true,
			"too many rejected rows: -: 2 of 4 rows rejected (0.5), above the limit 0.49999 (the rejects so far are in "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.job.Schema = mustSchema(t, peopleSchema)
			sum, err, out, rej := runLocal(t, input, tc.job)
			if !tc.wantFail {
				if err != nil || sum.Rejected != 2 {
					t.Fatalf("err %v, rejected %d; want success with 2 rejects", err, sum.Rejected)
				}
				return
			}
			if !errors.Is(err, csvstream.ErrTooManyRejects) {
				t.Fatalf("err %v, want ErrTooManyRejects", err)
			}
			// The message names the source and where the rejects that
			// stopped the job were written.
			if msg := err.Error(); !strings.HasPrefix(msg, tc.msg) || !strings.HasSuffix(msg, string(filepath.Separator)+"out.csv"+csvstream.RejectsSuffix+")") {
				t.Errorf("message\n  %s\nwant it to start with\n  %s\nand end with the rejects location", msg, tc.msg)
			}
			if out != "<none>" {
				t.Errorf("a failed job published output %q", out)
			}
			// Both rejects so far, the one over the limit included.
			for _, row := range []string{"x,b,2", "y,c,3"} {
				if !strings.HasPrefix(rej, "line,record,error,field,message,raw\n") || !strings.Contains(rej, row) {
					t.Errorf("rejects %q should keep the rows that stopped the job, %s among them", rej, row)
				}
			}
		})
	}
}

func TestRunJSONLines(t *testing.T) {
	input := "id,name,age\n1,\"Ann \"\"A\"\"\",30\n2,Bob,\n"
	sum, err, out, _ := runLocal(t, input, csvstream.Job{Schema: mustSchema(t, peopleSchema), Format: csvstream.FormatJSONL})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":1,"name":"Ann \"A\"","age":30}` + "\n" + `{"id":2,"name":"Bob","age":null}` + "\n"
	if out != want {
		t.Errorf("jsonl output\n%s\nwant\n%s", out, want)
	}
	if sum.Valid != 2 || sum.BytesOut != int64(len(want)) {
		t.Errorf("summary %+v", sum)
	}
}

// TestRunEmptySource checks that a source with no bytes, or only a UTF-8
// byte order mark (as some tools export an empty table), is empty: it
// passes without a schema and fails with one.
func TestRunEmptySource(t *testing.T) {
	for name, src := range map[string]string{"empty": "", "byte order mark": "\xEF\xBB\xBF"} {
		t.Run(name, func(t *testing.T) {
			sum, err, out, _ := runLocal(t, src, csvstream.Job{})
			if err != nil || out != "" || sum.Rows != 0 {
				t.Fatalf("no schema: err %v, output %q, rows %d; want an empty output", err, out, sum.Rows)
			}
			_, err, out, _ = runLocal(t, src, csvstream.Job{Schema: mustSchema(t, peopleSchema)})
			var he *csvstream.HeaderError
			if !errors.As(err, &he) || !strings.Contains(err.Error(), "the source is empty") || out != "<none>" {
				t.Fatalf("with a schema: err %v, output %q; want a HeaderError saying the source is empty, and no output", err, out)
			}
		})
	}
}

func TestRunHeaderMismatchFailsAtOnce(t *testing.T) {
	_, err, out, _ := runLocal(t, "id,full_name,age\n1,a,2\n", csvstream.Job{Schema: mustSchema(t, peopleSchema)})
	var he *csvstream.HeaderError
	if !errors.As(err, &he) {
		t.Fatalf("err %v, want a HeaderError", err)
	}
	if !strings.HasPrefix(err.Error(), "-: ") {
		t.Errorf("error %q should start by naming the source, -", err)
	}
	if !strings.Contains(err.Error(), "full_name") || !strings.Contains(err.Error(), "name") {
		t.Errorf("error %q should name the differing columns", err)
	}
	if out != "<none>" {
		t.Errorf("output %q published despite the header mismatch", out)
	}
}

// TestRunOutputsBothStdout checks that a path naming standard output's file
// counts as standard output: the destination and rejects would otherwise
// mix in one stream, or one replace the other's file.
func TestRunOutputsBothStdout(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(src, []byte("a,b\n1,2\n3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, err := os.Create(filepath.Join(dir, "stdout.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	if _, err := stdout.WriteString("kept\n"); err != nil {
		t.Fatal(err)
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	other := csvstream.Location{Path: filepath.Join(dir, "rejects.csv")}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	samePipe := csvstream.Location{Path: fmt.Sprintf("/dev/fd/%d", pw.Fd())}
	cases := []struct {
		name      string
		dst, rej  csvstream.Location
		stdout    *os.File
		wantError string
	}{
		{"rejects to /dev/stdout", csvstream.Stdio, csvstream.Location{Path: "/dev/stdout"}, os.Stdout,
			"invalid job: destination - and rejects /dev/stdout are both standard output"},
		// As standard error shares a terminal or pipe with standard
		// output: the rejects mix into the stream, as asked.
		{"rejects to another descriptor of the same pipe", csvstream.Stdio, samePipe, pw, ""},
		{"rejects into the file standard output is", csvstream.Stdio, csvstream.Location{Path: stdout.Name()}, stdout,
			"invalid job: destination - and rejects " + stdout.Name() + " are both standard output"},
		{"destination into the file standard output is", csvstream.Location{Path: stdout.Name()}, csvstream.Stdio, stdout,
			"invalid job: destination " + stdout.Name() + " and rejects - are both standard output"},
		{"rejects elsewhere", csvstream.Stdio, other, stdout, ""},
		{"both on the null device", csvstream.Stdio, csvstream.Location{Path: os.DevNull}, null, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := csvstream.Run(context.Background(), nil, csvstream.Job{
				Source: csvstream.Location{Path: src}, Destination: tc.dst, Rejects: tc.rej, Stdout: tc.stdout,
			})
			switch {
			case tc.wantError == "" && err != nil:
				t.Fatalf("Run: %v", err)
			case tc.wantError != "" && (!errors.Is(err, csvstream.ErrInvalidJob) || err.Error() != tc.wantError):
				t.Fatalf("Run: err %v, want %s", err, tc.wantError)
			}
		})
	}
	if got, _ := os.ReadFile(stdout.Name()); !strings.HasPrefix(string(got), "kept\n") {
		t.Errorf("standard output's file holds %q: it was replaced", got)
	}
}

func TestRunInvalidJob(t *testing.T) {
	local := func(j csvstream.Job) csvstream.Job {
		j.Source, j.Destination = csvstream.Location{Path: "x"}, csvstream.Location{Path: "y"}
		return j
	}
	cases := []struct {
		name string
		job  csvstream.Job
		want string // in the message, when set
	}{
		{"no source", csvstream.Job{Destination: csvstream.Location{Path: "x"}}, "invalid job: no source"},
		{"no destination", csvstream.Job{Source: csvstream.Location{Path: "x"}}, "invalid job: no destination"},
		{"bad format", csvstream.Job{Source: csvstream.Location{Path: "x"}, Destination: csvstream.Location{Path: "y"}, Format: "xml"}, `format "xml": want "csv" or "jsonl"`},
		{"stdout with default rejects", csvstream.Job{Source: csvstream.Location{Path: "x"}, Destination: csvstream.Stdio}, `rejects location: no default for ".rejects.csv" next to "-": name it explicitly`},
		{"rejects onto destination", csvstream.Job{Source: csvstream.Location{Path: "x"}, Destination: csvstream.Location{Path: "y"}, Rejects: csvstream.Location{Path: "y"}}, ""},
		{"negative ratio", csvstream.Job{Source: csvstream.Location{Path: "x"}, Destination: csvstream.Location{Path: "y"}, MaxRejectRatio: new(-0.5)}, "max reject ratio -0.5: want a number from 0 to 1"},
		{"ratio above one", local(csvstream.Job{MaxRejectRatio: new(1.5)}), "max reject ratio 1.5: want a number from 0 to 1"},
		{"negative max rejects", local(csvstream.Job{MaxRejects: new(int64(-1))}), "max rejects -1 is negative"},
		{"version of a local source", local(csvstream.Job{Reader: csvstream.ReaderOptions{VersionID: "v1"}}), "source x: only an S3 object has versions"},
		{"rejects onto source", csvstream.Job{Source: csvstream.Location{Path: "x"}, Destination: csvstream.Location{Path: "y"}, Rejects: csvstream.Location{Path: "./x"}}, ""},
		{"destination onto source, spelt differently", csvstream.Job{Source: csvstream.Location{Path: "dir/../x"}, Destination: csvstream.Location{Path: "x"}}, ""},
		{"S3 rejects onto source", csvstream.Job{Source: csvstream.Location{Bucket: "b", Key: "k"}, Destination: csvstream.Location{Bucket: "b", Key: "o"}, Rejects: csvstream.Location{Bucket: "b", Key: "k"}}, ""},
		{"default rejects next to a device", csvstream.Job{Source: csvstream.Location{Path: "x"}, Destination: csvstream.Location{Path: os.DevNull}}, ""},
		{"default rejects next to a descriptor", csvstream.Job{Source: csvstream.Location{Path: "x"}, Destination: csvstream.Location{Path: "/dev/fd/2"}},
			"destination /dev/fd/2 names a descriptor, so the rejects have no place next to it: name one"},
		{"rejects onto schema", csvstream.Job{Source: csvstream.Location{Path: "x"}, Destination: csvstream.Location{Path: "y"}, Rejects: csvstream.Location{Path: "s.json"}, SchemaLocation: csvstream.Location{Path: "./s.json"}}, ""},
		{"default rejects onto schema", csvstream.Job{Source: csvstream.Location{Path: "x"}, Destination: csvstream.Location{Path: "y"}, SchemaLocation: csvstream.Location{Path: "y" + csvstream.RejectsSuffix}}, ""},
		{"S3 destination onto schema", csvstream.Job{Source: csvstream.Location{Bucket: "b", Key: "k"}, Destination: csvstream.Location{Bucket: "b", Key: "s"}, SchemaLocation: csvstream.Location{Bucket: "b", Key: "s"}}, "schema and destination are both s3://b/s"},
		{"destination onto schema", local(csvstream.Job{Rejects: csvstream.Location{Path: "r"}, SchemaLocation: csvstream.Location{Path: "./y"}}), "schema and destination are both ./y"},
		// S3 takes keys of up to 1,024 bytes: the default rejects key adds
		// a suffix to the destination's.
		{"default rejects key too long", csvstream.Job{Source: csvstream.Location{Bucket: "b", Key: "k"}, Destination: csvstream.Location{Bucket: "b", Key: strings.Repeat("d", 1020)}}, ""},
		{"destination key too long", csvstream.Job{Source: csvstream.Location{Bucket: "b", Key: "k"}, Destination: csvstream.Location{Bucket: "b", Key: strings.Repeat("d", 1025)}, Rejects: csvstream.Location{Bucket: "b", Key: "r"}}, ""},
		// Locations and options built in Go, not parsed, fail before
		// anything is read, not as a failed upload once the header is in.
		{"destination key without a bucket", csvstream.Job{Source: csvstream.Location{Path: "x"}, Destination: csvstream.Location{Key: "out.csv"}}, `destination: key "out.csv" names no bucket`},
		{"source bucket without a key", csvstream.Job{Source: csvstream.Location{Bucket: "b"}, Destination: csvstream.Location{Path: "y"}}, "source: s3://b/ names no key"},
		{"schema key without a bucket", local(csvstream.Job{SchemaLocation: csvstream.Location{Key: "s.json"}}), `schema: key "s.json" names no bucket`},
		{"rejects with a bucket and a path", local(csvstream.Job{Rejects: csvstream.Location{Bucket: "b", Key: "r", Path: "r"}}), `rejects: s3://b/r also names the path "r"`},
		{"part size below S3's minimum", local(csvstream.Job{Writer: csvstream.WriterOptions{PartSize: 1 << 20}}), "writer options: part size 1048576 is below S3's minimum"},
		{"part size above S3's maximum", local(csvstream.Job{Writer: csvstream.WriterOptions{PartSize: 6 << 30}}), "above S3's maximum"},
		{"concurrency above the maximum", local(csvstream.Job{Writer: csvstream.WriterOptions{Concurrency: csvstream.MaxConcurrency + 1}}), "writer options: concurrency 65 is above the maximum of 64"},
		{"negative part attempts", local(csvstream.Job{Writer: csvstream.WriterOptions{PartAttempts: -1}}), "must not be negative"},
		{"read concurrency above the maximum", local(csvstream.Job{Reader: csvstream.ReaderOptions{Concurrency: csvstream.MaxConcurrency + 1}}), "reader options: read concurrency 65 is above the maximum of 64"},
		{"negative read concurrency", local(csvstream.Job{Reader: csvstream.ReaderOptions{Concurrency: -1}}), "reader options: read attempts, backoff, stall timeout and concurrency must not be negative"},
		{"chunk size too small", local(csvstream.Job{Reader: csvstream.ReaderOptions{ChunkSize: 1000}}), "reader options: chunk size 1000 is outside 65536 (64 KiB) to 1073741824 (1 GiB)"},
		{"quote as delimiter", local(csvstream.Job{Scan: csvstream.ScanOptions{Comma: '"'}}), "scan options: invalid delimiter"},
		{"record size above the limit", local(csvstream.Job{Scan: csvstream.ScanOptions{MaxRecordSize: csvstream.MaxRecordSizeLimit + 1}}), "scan options: invalid MaxRecordSize"},
		// A job without what its locations need.
		{"standard input without Stdin", csvstream.Job{Source: csvstream.Stdio, Destination: csvstream.Location{Path: "y"}}, "the source is standard input, but the job has no Stdin"},
		{"S3 source without a client", csvstream.Job{Source: csvstream.Location{Bucket: "b", Key: "k"}, Destination: csvstream.Location{Path: "y"}}, "s3://b/k is in S3, but no S3 client was given"},
		{"S3 destination without a client", csvstream.Job{Source: csvstream.Location{Path: "x"}, Destination: csvstream.Location{Bucket: "b", Key: "o"}}, "s3://b/o is in S3, but no S3 client was given"},
		{"S3 rejects without a client", local(csvstream.Job{Rejects: csvstream.Location{Bucket: "b", Key: "r"}}), "s3://b/r is in S3, but no S3 client was given"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := csvstream.Run(context.Background(), nil, tc.job)
			if !errors.Is(err, csvstream.ErrInvalidJob) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrInvalidJob saying %q", err, tc.want)
			}
		})
	}
}

// TestRunOutputsOneNewFileThroughALink names one output file that does not
// exist yet twice, through a directory and a link to it: the job is
// refused, rather than one output renamed over the other.
func TestRunOutputsOneNewFileThroughALink(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	_, err := csvstream.Run(context.Background(), nil, csvstream.Job{
		Source: csvstream.Stdio, Stdin: strings.NewReader("id,x\n1,a\n2\n"),
		Destination: csvstream.Location{Path: filepath.Join(dir, "real", "out.csv")},
		Rejects:     csvstream.Location{Path: filepath.Join(dir, "link", "out.csv")},
	})
	if !errors.Is(err, csvstream.ErrInvalidJob) || !strings.Contains(err.Error(), "destination and rejects are both") {
		t.Errorf("err %v, want ErrInvalidJob: destination and rejects are one file", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "real", "out.csv")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the output was written: %v", err)
	}
	// A link followed by "..": the system resolves link/.. to the link's
	// target's parent, not to the directory the link is in.
	if err := os.MkdirAll(filepath.Join(dir, "real", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("real", "sub"), filepath.Join(dir, "down")); err != nil {
		t.Fatal(err)
	}
	_, err = csvstream.Run(context.Background(), nil, csvstream.Job{
		Source: csvstream.Stdio, Stdin: strings.NewReader("id,x\n1,a\n2\n"),
		Destination: csvstream.Location{Path: filepath.Join(dir, "real", "out.csv")},
		Rejects:     csvstream.Location{Path: dir + "/down/../out.csv"},
	})
	if !errors.Is(err, csvstream.ErrInvalidJob) {
		t.Errorf("through down/..: err %v, want ErrInvalidJob: destination and rejects are one file", err)
	}
	// Two paths that clean to the same text may still be two files:
	// down/../out.csv is real/out.csv, not out.csv.
	sum, err := csvstream.Run(context.Background(), nil, csvstream.Job{
		Source: csvstream.Stdio, Stdin: strings.NewReader("id,x\n1,a\n2\n"),
		Destination: csvstream.Location{Path: dir + "/down/../out.csv"},
		Rejects:     csvstream.Location{Path: filepath.Join(dir, "out.csv")},
	})
	if err != nil || sum.Valid != 1 || sum.Rejected != 1 {
		t.Errorf("down/../out.csv and out.csv: summary %+v, err %v; want 1 valid and 1 rejected", sum, err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "real", "out.csv")); string(got) != "id,x\n1,a\n" {
		t.Errorf("real/out.csv holds %q (%v), want the valid row", got, err)
	}
	// The same, with down/../out.csv there and out.csv not.
	os.Remove(filepath.Join(dir, "out.csv"))
	sum, err = csvstream.Run(context.Background(), nil, csvstream.Job{
		Source: csvstream.Stdio, Stdin: strings.NewReader("id,x\n1,a\n2\n"),
		Destination: csvstream.Location{Path: dir + "/down/../out.csv"},
		Rejects:     csvstream.Location{Path: filepath.Join(dir, "out.csv")},
	})
	if err != nil || sum.Valid != 1 || sum.Rejected != 1 {
		t.Errorf("down/../out.csv there and out.csv not: summary %+v, err %v; want 1 valid and 1 rejected", sum, err)
	}
	for _, name := range []string{"out.csv", "real/out.csv"} {
		os.Remove(filepath.Join(dir, name))
	}
	// Different names in the one directory are different files.
	sum, err = csvstream.Run(context.Background(), nil, csvstream.Job{
		Source: csvstream.Stdio, Stdin: strings.NewReader("id,x\n1,a\n2\n"),
		Destination: csvstream.Location{Path: filepath.Join(dir, "real", "out.csv")},
		Rejects:     csvstream.Location{Path: filepath.Join(dir, "link", "rejects.csv")},
	})
	if err != nil || sum.Valid != 1 || sum.Rejected != 1 {
		t.Errorf("summary %+v, err %v; want 1 valid and 1 rejected", sum, err)
	}
}

// TestRunCountsRetries corrupts the first PutObject of each output in
// transit: S3 refuses both, each is sent again, and the summary counts
// both re-sends.
func TestRunCountsRetries(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "retries")
	srv.Put(t, bucket, "in/people.csv", []byte("id,name,age\n1,A,3\n2,x,-1\n"))
	p := faultproxy.New(t, srv.Endpoint)
	for _, key := range []string{"out/people.csv", "out/people.csv" + csvstream.RejectsSuffix} {
		p.Inject(faultproxy.Fault{Kind: faultproxy.FlipByte, After: 3, Match: faultproxy.IsPutObject(key)})
	}
	// The source's body breaks once: the summary counts the resumed read.
	p.Inject(faultproxy.Fault{Kind: faultproxy.CutResponse, After: 5, Match: faultproxy.IsGet("in/people.csv")})
	sum, err := csvstream.Run(context.Background(), s3test.ClientFor(p.URL, csvstream.ClientOptions), csvstream.Job{
		Source:      csvstream.Location{Bucket: bucket, Key: "in/people.csv"},
		Destination: csvstream.Location{Bucket: bucket, Key: "out/people.csv"},
		Schema:      mustSchema(t, peopleSchema),
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Fired(faultproxy.FlipByte) != 2 || sum.Retries != 2 {
		t.Errorf("%d corrupted requests, summary retries %d; want 2 and 2", p.Fired(faultproxy.FlipByte), sum.Retries)
	}
	if p.Fired(faultproxy.CutResponse) != 1 || sum.Resumes != 1 {
		t.Errorf("%d source bodies cut, summary resumes %d; want 1 and 1", p.Fired(faultproxy.CutResponse), sum.Resumes)
	}
	if got := string(srv.Get(t, bucket, "out/people.csv")); got != "id,name,age\n1,A,3\n" {
		t.Errorf("output %q", got)
	}

	// A failed job counts its retries too: the destination's PutObject is
	// corrupted on each of its attempts.
	p.Inject(faultproxy.Fault{Kind: faultproxy.FlipByte, After: 3, Times: 4, Match: faultproxy.IsPutObject("failed/people.csv")})
	sum, err = csvstream.Run(context.Background(), s3test.ClientFor(p.URL, csvstream.ClientOptions), csvstream.Job{
		Source:      csvstream.Location{Bucket: bucket, Key: "in/people.csv"},
		Destination: csvstream.Location{Bucket: bucket, Key: "failed/people.csv"},
		Schema:      mustSchema(t, peopleSchema),
	})
	if !errors.Is(err, csvstream.ErrUploadFailed) || sum.Retries != 3 {
		t.Errorf("err %v, summary retries %d; want ErrUploadFailed after 3 retries", err, sum.Retries)
	}
}

func TestRunS3ToS3(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "job")
	input := "\xef\xbb\xbfid;name;age\r\n1;\"A;\r\nB\";3\r\n2;x;-1\r\n3;C;4\r\n"
	srv.Put(t, bucket, "in/people.csv", []byte(input))
	srv.Put(t, bucket, "schemas/people.json", []byte(peopleSchema))
	client := srv.Client(csvstream.ClientOptions)
	ctx := context.Background()
	schema, err := csvstream.LoadSchema(ctx, client, csvstream.Location{Bucket: bucket, Key: "schemas/people.json"})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := csvstream.Run(ctx, client, csvstream.Job{
		Source:      csvstream.Location{Bucket: bucket, Key: "in/people.csv"},
		Destination: csvstream.Location{Bucket: bucket, Key: "out/people.csv"},
		Schema:      schema,
		Scan:        csvstream.ScanOptions{Comma: ';'},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(srv.Get(t, bucket, "out/people.csv")), "\xef\xbb\xbfid;name;age\r\n1;\"A;\r\nB\";3\r\n3;C;4\r\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	rej := string(srv.Get(t, bucket, "out/people.csv.rejects.csv"))
	if !strings.Contains(rej, "4,2,constraint-error,age,") {
		t.Errorf("rejects %q should report line 4, record 2, age", rej)
	}
	if sum.Rows != 3 || sum.Valid != 2 || sum.Rejected != 1 || sum.ETag == "" || sum.Destination != "s3://"+bucket+"/out/people.csv" {
		t.Errorf("summary %+v", sum)
	}
	if ups := srv.Uploads(t, bucket); len(ups) != 0 {
		t.Errorf("%d multipart uploads left behind", len(ups))
	}
	// Each output is typed for what it holds: JSON Lines, and the rejects' CSV.
	if _, err := csvstream.Run(ctx, client, csvstream.Job{
		Source:      csvstream.Location{Bucket: bucket, Key: "in/people.csv"},
		Destination: csvstream.Location{Bucket: bucket, Key: "out/people.jsonl"},
		Schema:      schema,
		Scan:        csvstream.ScanOptions{Comma: ';'},
		Format:      csvstream.FormatJSONL,
	}); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"out/people.jsonl": "application/x-ndjson", "out/people.jsonl" + csvstream.RejectsSuffix: "text/csv"} {
		head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String(key)})
		if err != nil || aws.ToString(head.ContentType) != want {
			t.Errorf("%s: content type %q (%v), want %s", key, aws.ToString(head.ContentType), err, want)
		}
	}
}

func TestRunMissingSource(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "missing")
	_, err := csvstream.Run(context.Background(), srv.Client(csvstream.ClientOptions), csvstream.Job{
		Source:      csvstream.Location{Bucket: bucket, Key: "nope.csv"},
		Destination: csvstream.Location{Bucket: bucket, Key: "out.csv"},
	})
	if !errors.Is(err, csvstream.ErrSourceNotFound) || !strings.Contains(err.Error(), "nope.csv") {
		t.Fatalf("err %v, want ErrSourceNotFound naming the key", err)
	}
	// A source in a bucket that does not exist is missing too, not an
	// invalid job, as an output there would be.
	_, err = csvstream.Run(context.Background(), srv.Client(csvstream.ClientOptions), csvstream.Job{
		Source:      csvstream.Location{Bucket: "no-such-bucket-here", Key: "in.csv"},
		Destination: csvstream.Location{Bucket: bucket, Key: "out.csv"},
	})
	if !errors.Is(err, csvstream.ErrSourceNotFound) || errors.Is(err, csvstream.ErrInvalidJob) {
		t.Fatalf("no such bucket: err %v, want ErrSourceNotFound and not ErrInvalidJob", err)
	}
}

// TestRunSourceNamesNothing reads local sources whose paths name nothing,
// though not for want of a file at the end: a path through a regular file,
// and a link to itself. Neither will pass, so the job fails as a missing
// source, not as a read failure that may pass.
func TestRunSourceNamesNothing(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("a\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	loop := filepath.Join(dir, "loop.csv")
	if err := os.Symlink("loop.csv", loop); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{filepath.Join(file, "x.csv"), loop} {
		_, err := csvstream.Run(context.Background(), nil, csvstream.Job{
			Source:      csvstream.Location{Path: src},
			Destination: csvstream.Location{Path: filepath.Join(dir, "out.csv")},
		})
		if !errors.Is(err, csvstream.ErrSourceNotFound) || errors.Is(err, csvstream.ErrSourceRead) {
			t.Errorf("%s: err %v, want ErrSourceNotFound", src, err)
		}
	}
}

// TestRunSourceThatCannotBeOpened reads a local source that exists but that
// open(2) refuses for another reason than its name or its permissions (a
// Unix socket, ENXIO): the job fails as a source read, not as an error of
// no kind.
func TestRunSourceThatCannotBeOpened(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "in.csv")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = csvstream.Run(context.Background(), nil, csvstream.Job{
		Source:      csvstream.Location{Path: sock},
		Destination: csvstream.Location{Path: filepath.Join(dir, "out.csv")},
	})
	if !errors.Is(err, csvstream.ErrSourceRead) || errors.Is(err, csvstream.ErrSourceNotFound) || !strings.Contains(err.Error(), sock) {
		t.Errorf("err %v, want ErrSourceRead naming %s", err, sock)
	}
}

// TestRunSchemaBuiltInGoIsSchemaError gives Run schemas built in Go that
// ParseSchema would refuse: the error wraps ErrSchema, as a loaded one's
// does, is not taken for a header problem, and comes before the source is
// read.
func TestRunSchemaBuiltInGoIsSchemaError(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		schema      *csvstream.Schema
		msg         string // the error's message: "schema error: " says what "schema: " would
	}{
		{"unknown type", "a\n1\n", &csvstream.Schema{Fields: []csvstream.Field{{Name: "a", Type: "float"}}},
			`schema error: field "a": type "float" is not supported (want string, integer, number, boolean, date, time, datetime, year or any)`},
		{"no fields", "a\n1\n", &csvstream.Schema{}, "schema error: no fields"},
		{"primary key names no field, empty source", "", &csvstream.Schema{Fields: []csvstream.Field{{Name: "a"}}, PrimaryKey: []string{"id"}},
			`schema error: primaryKey: no field is named "id"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := strings.NewReader(tc.input)
			_, err := csvstream.Run(context.Background(), nil, csvstream.Job{
				Source: csvstream.Stdio, Stdin: in, Schema: tc.schema,
				Destination: csvstream.Location{Path: filepath.Join(t.TempDir(), "out.csv")},
			})
			var header *csvstream.HeaderError
			if !errors.Is(err, csvstream.ErrSchema) || errors.As(err, &header) {
				t.Errorf("err %v: want ErrSchema, not a header error", err)
			}
			if err != nil && err.Error() != tc.msg {
				t.Errorf("err %q, want %q", err, tc.msg)
			}
			if in.Len() != len(tc.input) {
				t.Errorf("the source was read (%d of %d bytes left) before the schema was refused", in.Len(), len(tc.input))
			}
		})
	}
}

// TestRunMissingOutputBucket writes to a bucket S3 does not have: the job
// fails as an invalid job, which no retry mends, not as a failed upload,
// which one might. It fails before reading past the header, and publishes
// neither output: not even a small destination, written by one PutObject
// at the end, can fail after the rejects are published.
func TestRunMissingOutputBucket(t *testing.T) {
	srv := s3test.Start(t)
	client := srv.Client(csvstream.ClientOptions)
	bucket := srv.Bucket(t, "nobucket")
	var data bytes.Buffer
	if _, err := gen.Orders(&data, gen.Options{Rows: 40000, InvalidEvery: 10}); err != nil {
		t.Fatal(err)
	}
	srv.Put(t, bucket, "in.csv", data.Bytes())
	for _, job := range []csvstream.Job{
		{Destination: csvstream.Location{Bucket: "no-such-bucket-here", Key: "out.csv"}, Rejects: csvstream.Location{Bucket: bucket, Key: "r.csv"}},
		{Destination: csvstream.Location{Bucket: bucket, Key: "out.csv"}, Rejects: csvstream.Location{Bucket: "no-such-bucket-here", Key: "r.csv"}},
		{Destination: csvstream.Location{Bucket: "Not_A_Bucket_Name", Key: "out.csv"}, Rejects: csvstream.Location{Bucket: bucket, Key: "r.csv"}},
	} {
		job.Source = csvstream.Location{Bucket: bucket, Key: "in.csv"}
		sum, err := csvstream.Run(context.Background(), client, job)
		missing := job.Destination
		if missing.Bucket == bucket {
			missing = job.Rejects
		}
		if !errors.Is(err, csvstream.ErrInvalidJob) || !errors.Is(err, csvstream.ErrUploadFailed) || !strings.Contains(err.Error(), missing.String()) {
			t.Errorf("%s: err %v, want ErrInvalidJob and ErrUploadFailed naming the output", missing, err)
		}
		if sum.BytesIn > int64(data.Len())/2 {
			t.Errorf("%s: read %d of the source's %d bytes before failing", missing, sum.BytesIn, data.Len())
		}
		for _, key := range []string{"out.csv", "r.csv"} {
			if _, herr := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String(key)}); herr == nil {
				t.Errorf("%s: s3://%s/%s was published by a failed job", missing, bucket, key)
			}
		}
		if ups := srv.Uploads(t, bucket); len(ups) != 0 {
			t.Errorf("%d multipart uploads left behind", len(ups))
		}
	}
}

// TestRunOutputCheck covers the edges of the check that each S3 output can
// be written: a job stopped before it sends nothing and reports the stop,
// not a failed upload; and an abort of the check's upload that fails does
// not fail a job whose outputs can be written.
func TestRunOutputCheck(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "outcheck")
	input := []byte("id,name\n1,a\n2,b\n")
	job := func(name string) csvstream.Job {
		return csvstream.Job{
			Source: csvstream.Stdio, Stdin: bytes.NewReader(input),
			Destination: csvstream.Location{Bucket: bucket, Key: name + ".csv"},
		}
	}

	t.Run("stopped", func(t *testing.T) {
		p := faultproxy.New(t, srv.Endpoint)
		p.Inject(faultproxy.Fault{Kind: faultproxy.Status, Status: 500, Code: "InternalError", Match: faultproxy.IsCreateUpload, Times: 100})
		stop := errors.New("interrupt signal received")
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(stop)
		_, err := csvstream.Run(ctx, s3test.ClientFor(p.URL, csvstream.ClientOptions), job("stopped"))
		if !errors.Is(err, stop) || errors.Is(err, csvstream.ErrUploadFailed) || !strings.Contains(err.Error(), "stopped.csv") {
			t.Errorf("err %v, want the stop's cause, naming the output, and not a failed upload", err)
		}
		if n := p.Fired(faultproxy.Status); n != 0 {
			t.Errorf("%d CreateMultipartUpload requests sent by a stopped job", n)
		}
		if ups := srv.Uploads(t, bucket); len(ups) != 0 {
			t.Errorf("%d multipart uploads left behind", len(ups))
		}
	})

	t.Run("abort refused", func(t *testing.T) {
		p := faultproxy.New(t, srv.Endpoint)
		p.Inject(faultproxy.Fault{Kind: faultproxy.Status, Status: 403, Code: "AccessDenied", Match: faultproxy.IsAbortUpload})
		sum, err := csvstream.Run(context.Background(), s3test.ClientFor(p.URL, csvstream.ClientOptions), job("refused"))
		if err != nil {
			t.Fatalf("err %v, want success: the outputs can be written", err)
		}
		if got := srv.Get(t, bucket, "refused.csv"); !bytes.Equal(got, input) || sum.Valid != 2 {
			t.Errorf("destination %q, summary %+v", got, sum)
		}
		// The check's upload is left, empty, for a sweep.
		if ups := srv.Uploads(t, bucket); len(ups) != 1 || aws.ToString(ups[0].Key) != "refused.csv" {
			t.Errorf("uploads left %+v, want the check's, for refused.csv", ups)
		}
	})
}

func TestLoadSchemaErrors(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"bad.json":    `{"fields": [{"name": "n", "type": "money"}]}`,
		"empty.json":  "",
		"blank.json":  "\ufeff \n\t\n",
		"broken.json": "{\"fields\": [\n  {\"name\": \"id\" \"type\": \"integer\"}\n]}\n",
		"large.json":  `{"fields": [` + strings.Repeat(" ", 8<<20),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bad := filepath.Join(dir, "bad.json")
	cases := []struct {
		name string
		loc  csvstream.Location
		want string
	}{
		{"missing file", csvstream.Location{Path: filepath.Join(dir, "absent.json")}, "absent.json does not exist"},
		{"unsupported type", csvstream.Location{Path: bad}, `field "n"`},
		{"empty file", csvstream.Location{Path: filepath.Join(dir, "empty.json")}, "empty.json is empty: it holds no JSON"},
		{"white space only", csvstream.Location{Path: filepath.Join(dir, "blank.json")}, "blank.json is empty: it holds no JSON"},
		{"syntax error", csvstream.Location{Path: filepath.Join(dir, "broken.json")}, `broken.json: invalid JSON at line 2, column 17: invalid character '"' after object key:value pair`},
		{"directory", csvstream.Location{Path: dir}, "schema error: " + dir + " is a directory"},
		{"larger than 8 MiB", csvstream.Location{Path: filepath.Join(dir, "large.json")}, "large.json is larger than 8388608 bytes"},
		{"standard input", csvstream.Stdio, "schema error: a schema cannot be read from standard input: give a path or s3:// URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := csvstream.LoadSchema(context.Background(), nil, tc.loc)
			if !errors.Is(err, csvstream.ErrSchema) || errors.Is(err, csvstream.ErrSourceNotFound) {
				t.Fatalf("err %v: want ErrSchema, and not ErrSourceNotFound", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %q should mention %q", err, tc.want)
			}
		})
	}
}

// TestLoadSchemaAtSizeLimit loads a schema of exactly 8 MiB, white space
// padding it: the limit refuses only a larger one.
func TestLoadSchemaAtSizeLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "schema.json")
	doc := `{"fields": [{"name": "id", "type": "integer"}]}`
	if err := os.WriteFile(path, []byte(doc+strings.Repeat(" ", 8<<20-len(doc))), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := csvstream.LoadSchema(context.Background(), nil, csvstream.Location{Path: path})
	if err != nil || len(s.Fields) != 1 {
		t.Fatalf("schema of 8 MiB: %v, want it loaded", err)
	}
}

// TestLoadSchemaStoppedSaysWhy stops LoadSchema while the schema's bytes
// are arriving, from S3 or from a named pipe: the error names the stop's
// cause, not an i/o timeout or a bare "context canceled".
func TestLoadSchemaStoppedSaysWhy(t *testing.T) {
	fifo := func(t *testing.T) csvstream.Location {
		path := filepath.Join(t.TempDir(), "schema.json")
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			t.Fatal(err)
		}
		// O_RDWR opens a FIFO at once; LoadSchema opens the read end later.
		w, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		if _, err := w.WriteString(`{"fields": [`); err != nil {
			t.Fatal(err)
		}
		return csvstream.Location{Path: path}
	}
	tests := []struct {
		name string
		open func(t *testing.T) (csvstream.GetObjectAPI, csvstream.Location)
		wait func(t *testing.T) // until LoadSchema waits where it is stopped
	}{
		{"S3 body stalled", func(t *testing.T) (csvstream.GetObjectAPI, csvstream.Location) {
			srv := s3test.Start(t)
			bucket := srv.Bucket(t, "schemastop")
			srv.Put(t, bucket, "schema.json", []byte(gen.Schema))
			p := faultproxy.New(t, srv.Endpoint)
			p.Inject(faultproxy.Fault{Kind: faultproxy.StallResponse, After: 10, Match: faultproxy.IsGet("schema.json")})
			return s3test.ClientFor(p.URL, csvstream.ClientOptions), csvstream.Location{Bucket: bucket, Key: "schema.json"}
		}, func(t *testing.T) {
			leakcheck.WaitFor(t, "csvstream.(*ObjectReader).Read(", "created by "+lib+"_test.TestLoadSchemaStoppedSaysWhy.")
		}},
		{"named pipe stalled", func(t *testing.T) (csvstream.GetObjectAPI, csvstream.Location) {
			return nil, fifo(t)
		}, func(t *testing.T) {
			leakcheck.WaitFor(t, "(*pollDesc).waitRead(", "created by "+lib+"_test.TestLoadSchemaStoppedSaysWhy.")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api, loc := tt.open(t)
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			done := make(chan error, 1)
			go func() {
				_, err := csvstream.LoadSchema(ctx, api, loc)
				done <- err
			}()
			tt.wait(t)
			cancel(errStopTest)
			err := <-done
			if !errors.Is(err, csvstream.ErrSchema) || !errors.Is(err, errStopTest) || !strings.Contains(err.Error(), "stopped: "+errStopTest.Error()) {
				t.Errorf("LoadSchema stopped: %v; want a schema error naming the stop (%v)", err, errStopTest)
			}
		})
	}
}

// TestDirectorySource checks that a directory as a source fails before it
// is read, with a message that names it once: for a job, as an invalid job
// (as a directory as an output does), and for OpenSource, as itself.
func TestDirectorySource(t *testing.T) {
	dir := t.TempDir()
	src := csvstream.Location{Path: dir}
	_, err := csvstream.Run(context.Background(), nil, csvstream.Job{
		Source:      src,
		Destination: csvstream.Location{Path: filepath.Join(t.TempDir(), "out.csv")},
	})
	if want := "invalid job: source: " + dir + " is a directory"; !errors.Is(err, csvstream.ErrInvalidJob) || err.Error() != want {
		t.Errorf("Run: err %v, want ErrInvalidJob: %s", err, want)
	}
	rc, err := csvstream.OpenSource(context.Background(), nil, src, nil, csvstream.ReaderOptions{})
	if err == nil {
		rc.Close()
	}
	if want := dir + " is a directory"; err == nil || err.Error() != want {
		t.Errorf("OpenSource: err %v, want %s", err, want)
	}
}

func TestRunFailureWritesNothingToStdout(t *testing.T) {
	var out strings.Builder
	_, err := csvstream.Run(context.Background(), nil, csvstream.Job{
		Source: csvstream.Stdio, Stdin: strings.NewReader("id,name,age\n1,a,2\nx,b,3\n"),
		Destination: csvstream.Stdio, Stdout: &out,
		Rejects:    csvstream.Location{Path: filepath.Join(t.TempDir(), "rejects.csv")},
		Schema:     mustSchema(t, peopleSchema),
		MaxRejects: new(int64(0)),
	})
	if !errors.Is(err, csvstream.ErrTooManyRejects) {
		t.Fatalf("err %v, want ErrTooManyRejects", err)
	}
	if out.Len() != 0 {
		t.Errorf("a failed job wrote %q to standard output", out.String())
	}
}

// TestRunStdinIsAnOutput checks that an output naming the file standard
// input reads is refused, as one naming the source is: it would replace
// the file while it is read.
func TestRunStdinIsAnOutput(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "in.csv")
	const data = "id,name,age\n1,a,2\nx,b,3\n"
	if err := os.WriteFile(src, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.csv")
	if err := os.Symlink(src, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, dst, rejects string }{
		{"destination", src, filepath.Join(dir, "r.csv")},
		{"destination through a link", link, filepath.Join(dir, "r.csv")},
		{"rejects", filepath.Join(dir, "out.csv"), src},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := os.Open(src)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			_, err = csvstream.Run(context.Background(), nil, csvstream.Job{
				Source: csvstream.Stdio, Stdin: in,
				Destination: csvstream.Location{Path: tc.dst},
				Rejects:     csvstream.Location{Path: tc.rejects},
				Schema:      mustSchema(t, peopleSchema),
			})
			if !errors.Is(err, csvstream.ErrInvalidJob) || !strings.Contains(err.Error(), "standard input and") {
				t.Errorf("err %v, want an invalid job naming standard input", err)
			}
			if got := readIfExists(t, src); got != data {
				t.Errorf("the source now holds %q", got)
			}
		})
	}
}

// TestRunSourceIsStdoutsFile checks that a job whose output goes through
// standard output, appending to the file the job reads (run in.csv - >>
// in.csv), is refused: it would read its own output back without end. So
// is one appending to the schema's file, which the next job could not
// read.
func TestRunSourceIsStdoutsFile(t *testing.T) {
	dir := t.TempDir()
	src, schemaPath := filepath.Join(dir, "in.csv"), filepath.Join(dir, "schema.json")
	const data = "id,name,age\n1,a,2\nx,b,3\n"
	const schemaJSON = `{"fields":[{"name":"id","type":"integer"},{"name":"name"},{"name":"age","type":"integer"}]}`
	schema, err := csvstream.ParseSchema([]byte(schemaJSON))
	if err != nil {
		t.Fatal(err)
	}
	withSchema := func(j csvstream.Job) csvstream.Job {
		j.Schema, j.SchemaLocation = schema, csvstream.Location{Path: schemaPath}
		return j
	}
	for _, tc := range []struct {
		name     string
		job      csvstream.Job
		appended string // the file standard output appends to
		stdinSrc bool   // standard input reads the source too
		want     string
	}{
		{"destination -", csvstream.Job{Source: csvstream.Location{Path: src}, Destination: csvstream.Stdio, Rejects: csvstream.Location{Path: filepath.Join(dir, "r.csv")}},
			src, false, "source " + src + " is the file standard output writes to"},
		{"standard input", csvstream.Job{Source: csvstream.Stdio, Destination: csvstream.Stdio, Rejects: csvstream.Location{Path: filepath.Join(dir, "r.csv")}},
			src, true, "standard input and standard output are one file"},
		{"the schema, destination -", withSchema(csvstream.Job{Source: csvstream.Location{Path: src}, Destination: csvstream.Stdio, Rejects: csvstream.Location{Path: filepath.Join(dir, "r.csv")}}),
			schemaPath, false, "schema " + schemaPath + " is the file standard output writes to"},
		{"the schema, rejects -", withSchema(csvstream.Job{Source: csvstream.Location{Path: src}, Destination: csvstream.Location{Path: filepath.Join(dir, "out.csv")}, Rejects: csvstream.Stdio}),
			schemaPath, false, "schema " + schemaPath + " is the file standard output writes to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(src, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(schemaPath, []byte(schemaJSON), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := os.OpenFile(tc.appended, os.O_WRONLY|os.O_APPEND, 0) // >> in.csv, say
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			tc.job.Stdout = out
			if tc.stdinSrc {
				in, err := os.Open(src) // < in.csv
				if err != nil {
					t.Fatal(err)
				}
				defer in.Close()
				tc.job.Stdin = in
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err = csvstream.Run(ctx, nil, tc.job)
			if !errors.Is(err, csvstream.ErrInvalidJob) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want an invalid job: %s", err, tc.want)
			}
			if got := readIfExists(t, src); got != data {
				t.Errorf("the source now holds %d bytes", len(got))
			}
			if got := readIfExists(t, schemaPath); got != schemaJSON {
				t.Errorf("the schema now holds %q", got)
			}
		})
	}
}

// TestRunStalledPipeSource stops a job whose source is a named pipe (as
// <(zcat in.gz) is) that its producer keeps open without writing: the job
// stops at once, as stopped, rather than when the producer writes again.
func TestRunStalledPipeSource(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "in.csv")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	producer := make(chan *os.File, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			close(producer)
			return
		}
		f.WriteString("a,b\n1,2\n") // and then nothing, with the pipe open
		producer <- f
	}()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	done := make(chan error, 1)
	go func() {
		_, err := csvstream.Run(ctx, nil, csvstream.Job{
			Source: csvstream.Location{Path: fifo}, Destination: csvstream.Location{Path: filepath.Join(dir, "out.csv")},
		})
		done <- err
	}()
	f := <-producer
	if f == nil {
		return
	}
	defer f.Close()
	// The job has read the two lines and waits for more.
	proctest.WaitUnread(t, f, 0)
	leakcheck.WaitFor(t, "csvstream.(*Scanner).fill(", "(*pollDesc).waitRead(", "created by "+lib+"_test.TestRunStalledPipeSource ")
	cancel(errStopTest)
	select {
	case err := <-done:
		if want := fifo + ": stopped after byte 8: stopped by the test"; err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want %s", err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the job still waits for its producer 5s after it was stopped")
	}
	if got := readIfExists(t, filepath.Join(dir, "out.csv")); got != "<none>" {
		t.Errorf("out.csv published: %q", got)
	}
}

// TestRunPipeEndBeforeStop stops jobs whose source pipe ends a moment
// before the stop comes, as when Ctrl-C reaches the pipe's producer first:
// the job waits PipeEndGrace at the pipe's end, so the input cut short is
// not published as if whole. A trial whose stop came later than that (a
// busy machine) says nothing and is run again.
func TestRunPipeEndBeforeStop(t *testing.T) {
	tests := []struct {
		name string
		// open returns the job's source and standard input, and the pipe's
		// write end.
		open func(t *testing.T, dir string) (src csvstream.Location, stdin io.Reader, w *os.File)
	}{
		{"named pipe", func(t *testing.T, dir string) (csvstream.Location, io.Reader, *os.File) {
			fifo := filepath.Join(dir, "in.csv")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			// O_RDWR opens a FIFO at once; the job opens the read end later.
			w, err := os.OpenFile(fifo, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			return csvstream.Location{Path: fifo}, nil, w
		}},
		{"standard input", func(t *testing.T, dir string) (csvstream.Location, io.Reader, *os.File) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			return csvstream.Stdio, r, w
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for trial, decided := 0, 0; decided < 5; trial++ {
				if trial == 50 {
					t.Fatalf("only %d of 50 trials stopped the job within %v of the pipe's end", decided, csvstream.PipeEndGrace)
				}
				dir := t.TempDir()
				src, stdin, w := tt.open(t, dir)
				out := filepath.Join(dir, "out.csv")
				ctx, cancel := context.WithCancelCause(context.Background())
				done := make(chan error, 1)
				go func() {
					_, err := csvstream.Run(ctx, nil, csvstream.Job{Source: src, Stdin: stdin, Destination: csvstream.Location{Path: out}})
					done <- err
				}()
				if _, err := w.WriteString("a,b\n1,2\n"); err != nil {
					t.Fatal(err)
				}
				// Once the job has read the rows, closing the write end is the
				// pipe's end.
				proctest.WaitUnread(t, w, 0)
				w.Close()
				ended := time.Now()
				time.Sleep(csvstream.PipeEndGrace / 5)
				cancel(errStopTest)
				late := time.Since(ended) > csvstream.PipeEndGrace*4/5
				err := <-done
				if late && err == nil {
					continue
				}
				decided++
				if !errors.Is(err, errStopTest) {
					t.Fatalf("trial %d: err %v, want the stop that came %v after the pipe's end", trial, err, csvstream.PipeEndGrace/5)
				}
				if got := readIfExists(t, out); got != "<none>" {
					t.Fatalf("trial %d: out.csv published: %q", trial, got)
				}
			}
		})
	}
}

// failingWriter fails every write, as a stream whose reader went away.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errReaderGone }

var errReaderGone = errors.New("the reader went away")

// TestRunStreamFailureKeepsOtherOutput checks that a stream destination
// that cannot take the job's last records fails the job before the
// rejects are published: the rejects file stays as it was.
func TestRunStreamFailureKeepsOtherOutput(t *testing.T) {
	rejects := filepath.Join(t.TempDir(), "rejects.csv")
	if err := os.WriteFile(rejects, []byte("old rejects\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := csvstream.Run(context.Background(), nil, csvstream.Job{
		Source: csvstream.Stdio, Stdin: strings.NewReader("id,name,age\n1,a,2\nx,b,3\n"),
		Destination: csvstream.Stdio, Stdout: failingWriter{},
		Rejects: csvstream.Location{Path: rejects},
		Schema:  mustSchema(t, peopleSchema),
	})
	if !errors.Is(err, errReaderGone) {
		t.Fatalf("err %v, want the stream's failure", err)
	}
	if got := readIfExists(t, rejects); got != "old rejects\n" {
		t.Errorf("the rejects file holds %q after the job failed, want it as it was", got)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(rejects), ".*")); len(left) != 0 {
		t.Errorf("files left behind: %v", left)
	}
}

// stallAfter reads r, and then waits for stop instead of returning EOF: a
// producer that has sent its rows and keeps its end open.
type stallAfter struct {
	r    io.Reader
	stop <-chan struct{}
}

func (s stallAfter) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF {
		<-s.stop
		return n, io.ErrClosedPipe
	}
	return n, err
}

// failAfter takes n bytes, and then fails every write, as a stream whose
// reader read a little and went away.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k := f.n
		f.n = 0
		return k, errReaderGone
	}
	f.n -= len(p)
	return len(p), nil
}

// TestRunStreamFailureWhileInputStalls checks that a stream destination
// that fails while the input stalls fails the job at once, not when the
// input next brings bytes or ends.
func TestRunStreamFailureWhileInputStalls(t *testing.T) {
	// About 300 KB: more than the destination's buffer holds, so that the
	// rows are written, and fail, as the Scanner asks for the input's end.
	var in strings.Builder
	in.WriteString("id,name\n")
	for i := range 8000 {
		fmt.Fprintf(&in, "%d,%s\n", i, strings.Repeat("x", 30))
	}
	stop := make(chan struct{})
	defer close(stop)
	done := make(chan error, 1)
	go func() {
		_, err := csvstream.Run(context.Background(), nil, csvstream.Job{
			Source: csvstream.Stdio, Stdin: stallAfter{strings.NewReader(in.String()), stop},
			Destination: csvstream.Stdio, Stdout: &failAfter{n: 100},
			Rejects: csvstream.Location{Path: filepath.Join(t.TempDir(), "rejects.csv")},
		})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, errReaderGone) || !errors.Is(err, csvstream.ErrUploadFailed) || errors.Is(err, csvstream.ErrSourceRead) {
			t.Fatalf("err %v, want the stream's failure as a failed output, not a failed read", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the job still waits for its input 5s after its output failed")
	}
}

// cancelAtEOF reads r, and cancels a job's context when r ends: a
// producer stopped by the same interrupt as the job.
type cancelAtEOF struct {
	r      io.Reader
	cancel context.CancelCauseFunc
}

func (c cancelAtEOF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		c.cancel(errStopTest)
	}
	return n, err
}

// stopWhileReading is standard input read as the command line reads it:
// a read waits for the producer, and ends with the context's cause when
// the job is stopped while it waits. It stops the job after the reads
// that text allows.
type stopWhileReading struct {
	ctx    context.Context
	r      io.Reader
	cancel context.CancelCauseFunc
}

func (s stopWhileReading) Read(p []byte) (int, error) {
	if n, err := s.r.Read(p); err != io.EOF {
		return n, err
	}
	s.cancel(errStopTest)
	<-s.ctx.Done()
	return 0, context.Cause(s.ctx)
}

var errStopTest = fmt.Errorf("stopped by the test: %w", context.Canceled)

// TestRunStopped stops a job while its input is read: waiting for the
// header, waiting for more rows, or just as the input ends, before the
// periodic check sees it. The job fails as stopped, with the cause, not as
// a failed read of the source, and nothing is published.
func TestRunStopped(t *testing.T) {
	tests := []struct {
		name  string
		input string
		stdin func(ctx context.Context, r io.Reader, cancel context.CancelCauseFunc) io.Reader
		want  string
	}{
		{"waiting for the header", "", func(ctx context.Context, r io.Reader, cancel context.CancelCauseFunc) io.Reader {
			return stopWhileReading{ctx, r, cancel}
		}, "-: stopped after byte 0: stopped by the test: context canceled"},
		{"waiting for rows", "a,b\n1,2\n", func(ctx context.Context, r io.Reader, cancel context.CancelCauseFunc) io.Reader {
			return stopWhileReading{ctx, r, cancel}
		}, "-: stopped after byte 8: stopped by the test: context canceled"},
		{"as the input ends", "a,b\n1,2\n", func(_ context.Context, r io.Reader, cancel context.CancelCauseFunc) io.Reader {
			return cancelAtEOF{r, cancel}
		}, "-: stopped at the end of the input: stopped by the test: context canceled"},
		{"as an empty input ends", "", func(_ context.Context, r io.Reader, cancel context.CancelCauseFunc) io.Reader {
			return cancelAtEOF{r, cancel}
		}, "-: stopped at the end of the input: stopped by the test: context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			dir := t.TempDir()
			job := csvstream.Job{
				Source: csvstream.Stdio, Stdin: tt.stdin(ctx, strings.NewReader(tt.input), cancel),
				Destination: csvstream.Location{Path: filepath.Join(dir, "out.csv")},
			}
			_, err := csvstream.Run(ctx, nil, job)
			if err == nil || err.Error() != tt.want || !errors.Is(err, context.Canceled) || errors.Is(err, csvstream.ErrSourceRead) {
				t.Errorf("err %v, want %s, a cancellation and no source read failure", err, tt.want)
			}
			for _, p := range []string{job.Destination.Path, job.Destination.Path + csvstream.RejectsSuffix} {
				if got := readIfExists(t, p); got != "<none>" {
					t.Errorf("%s published: %q", filepath.Base(p), got)
				}
			}
		})
	}
}

// TestRunStoppedBetweenRows stops a job whose source never makes it wait:
// the job must still notice, between rows, and stop long before the end.
func TestRunStoppedBetweenRows(t *testing.T) {
	const rows = 200_000
	var input strings.Builder
	input.WriteString("a,b\n")
	for i := range rows {
		fmt.Fprintf(&input, "%d,x\n", i)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	dir := t.TempDir()
	job := csvstream.Job{
		Source: csvstream.Stdio, Stdin: &cancelAfter{r: strings.NewReader(input.String()), n: 100_000, cancel: cancel},
		Destination: csvstream.Location{Path: filepath.Join(dir, "out.csv")},
	}
	sum, err := csvstream.Run(ctx, nil, job)
	if err == nil || !strings.HasPrefix(err.Error(), "-: stopped at line ") || !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want -: stopped at line N and a cancellation", err)
	}
	if sum.Rows >= rows/2 {
		t.Errorf("%d of %d rows read, though the job was stopped after 100,000 bytes", sum.Rows, rows)
	}
	for _, p := range []string{job.Destination.Path, job.Destination.Path + csvstream.RejectsSuffix} {
		if got := readIfExists(t, p); got != "<none>" {
			t.Errorf("%s published: %q", filepath.Base(p), got)
		}
	}
}

// cancelAfter cancels once n bytes have been read, and goes on reading.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel context.CancelCauseFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n -= n; c.n <= 0 {
		c.cancel(errStopTest)
	}
	return n, err
}

// TestRunOutputIsTheValidRecords checks, whatever sizes the source's reads
// return, that the destination holds exactly the source's valid records,
// byte for byte and in order: the header, then every record the rejects do
// not name.
func TestRunOutputIsTheValidRecords(t *testing.T) {
	var src bytes.Buffer
	counts, err := gen.Orders(&src, gen.Options{Rows: 30_000, InvalidEvery: 13, Seed: 11, CRLF: true})
	if err != nil {
		t.Fatal(err)
	}
	readers := map[string]func(io.Reader) io.Reader{
		"whole":   func(r io.Reader) io.Reader { return r },
		"onebyte": iotest.OneByteReader,
		"half":    iotest.HalfReader,
		"odd":     func(r io.Reader) io.Reader { return &chunkReader{r: r, n: 4093} },
	}
	for name, wrap := range readers {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			job := csvstream.Job{
				Schema:      mustSchema(t, gen.Schema),
				Source:      csvstream.Stdio,
				Stdin:       wrap(bytes.NewReader(src.Bytes())),
				Destination: csvstream.Location{Path: filepath.Join(dir, "out.csv")},
			}
			sum, err := csvstream.Run(context.Background(), nil, job)
			if err != nil {
				t.Fatal(err)
			}
			// Read with the Scanner, since encoding/csv would turn the CRLFs
			// inside quoted raw fields into LFs.
			rejected := map[string]string{} // record number: raw column
			rs, err := csvstream.NewScanner(strings.NewReader(readIfExists(t, job.Destination.Path+csvstream.RejectsSuffix)), csvstream.ScanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for rs.Scan() {
				if rec := rs.Record(); rec.Num > 0 {
					rejected[string(rec.Field(1))] = string(rec.Field(5))
				}
			}
			if err := rs.Err(); err != nil {
				t.Fatal(err)
			}
			if len(rejected) != counts.Invalid {
				t.Fatalf("%d records rejected, gen wrote %d invalid", len(rejected), counts.Invalid)
			}
			var want bytes.Buffer
			s, err := csvstream.NewScanner(bytes.NewReader(src.Bytes()), csvstream.ScanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for s.Scan() {
				rec := s.Record()
				raw, ok := rejected[strconv.FormatInt(rec.Num, 10)]
				if !ok {
					want.Write(rec.Raw)
					continue
				}
				// The raw column holds the record without its CRLF.
				if line := strings.TrimSuffix(string(rec.Raw), "\r\n"); raw != line {
					t.Fatalf("record %d: raw column %q, want %q", rec.Num, raw, line)
				}
			}
			if got := readIfExists(t, job.Destination.Path); got != want.String() {
				t.Fatalf("output is %d bytes, want the %d bytes of the valid records", len(got), want.Len())
			}
			if sum.BytesOut != int64(want.Len()) || int64(len(rejected)) != sum.Rejected {
				t.Errorf("summary bytes out %d, rejected %d; want %d, %d", sum.BytesOut, sum.Rejected, want.Len(), len(rejected))
			}
		})
	}
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), c.n)])
}

// integerColumns returns the header line of width columns c1, c2, ...
// and a schema making each an integer.
func integerColumns(t *testing.T, width int) (string, *csvstream.Schema) {
	t.Helper()
	header := make([]string, width)
	fields := make([]string, width)
	for i := range header {
		header[i] = fmt.Sprintf("c%d", i+1)
		fields[i] = fmt.Sprintf(`{"name": %q, "type": "integer"}`, header[i])
	}
	return strings.Join(header, ",") + "\n", mustSchema(t, `{"fields": [`+strings.Join(fields, ",")+`]}`)
}

// TestRunRejectLinesOneUnlisted: a row with one problem more than the
// lines listed says so in the singular.
func TestRunRejectLinesOneUnlisted(t *testing.T) {
	const width = 21
	header, schema := integerColumns(t, width)
	input := header + strings.Repeat("x,", width-1) + "x\n"
	_, err, _, rej := runLocal(t, input, csvstream.Job{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(rej, "\n"), "\n")
	if len(lines) != 21 || !strings.Contains(lines[20], "(and 1 more problem in this row, not listed)") {
		t.Errorf("%d lines; the last: %.200s", len(lines), lines[len(lines)-1])
	}
}

// TestRunRejectLinesBounded feeds rows with a problem in every cell of a
// wide header, missing cells and thousands of extra cells: each row takes
// a bounded number of lines in the rejects, however long it is, and the
// counts still reconcile.
func TestRunRejectLinesBounded(t *testing.T) {
	const width = 300
	header, schema := integerColumns(t, width)
	input := header +
		"1\n" + // 299 missing cells: one problem
		strings.Repeat("x,", width-1) + "x\n" + // 300 type errors
		strings.Repeat("1,", 5000) + "1\n" + // 4,701 extra cells: one problem
		strings.Repeat(strings.Repeat("z", 2000)+",", width-1) + "z\n" // 300 type errors, and 600 KB to repeat
	sum, err, _, rej := runLocal(t, input, csvstream.Job{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != 4 || sum.Rejected != 4 || sum.RejectsByCode[csvstream.CodeMissingCell] != 1 ||
		sum.RejectsByCode[csvstream.CodeExtraCell] != 1 || sum.RejectsByCode[csvstream.CodeTypeError] != 2 {
		t.Fatalf("summary %+v", sum)
	}
	lines := strings.Split(strings.TrimSuffix(rej, "\n"), "\n")
	// The header, 1 for the short row, 20 for the row of bad cells, 1 for
	// the extra cells, and 1 for the 600 KB row, as 2 copies would pass 1 MiB.
	if got, want := len(lines), 1+1+20+1+1; got != want {
		t.Fatalf("%d rejects lines, want %d", got, want)
	}
	if !strings.Contains(lines[1], "299 missing cells: the row ends before column 2 (the header has 300)") {
		t.Errorf("the missing cells' line: %.200s", lines[1])
	}
	if !strings.Contains(lines[21], "(and 280 more problems in this row, not listed)") {
		t.Errorf("the last line listed for the row of bad cells does not say how many more there were: %.200s", lines[21])
	}
	if !strings.Contains(lines[22], "4701 extra cells in columns 301 to 5001 (the header has 300)") {
		t.Errorf("the extra cells' line: %.200s", lines[22])
	}
	if !strings.Contains(lines[23], "(and 299 more problems in this row, not listed)") {
		t.Errorf("the line for the 600 KB row: %.200s", lines[23])
	}
	if len(rej) > 2*len(input) {
		t.Errorf("%d bytes of rejects for %d bytes of input", len(rej), len(input))
	}
}

// replacingClient replaces the object key with body just before a job
// checks that its source is unchanged (the one-byte GET pinned to the ETag
// it read), as an upload of a newer version would while the job runs.
type replacingClient struct {
	*s3.Client
	t            *testing.T
	srv          *s3test.Server
	bucket, key  string
	body         []byte
	replacements int
}

func (c *replacingClient) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if aws.ToString(in.Key) == c.key && in.IfMatch != nil && aws.ToString(in.Range) == "bytes=0-0" && c.replacements == 0 {
		c.replacements++
		c.srv.Put(c.t, c.bucket, c.key, c.body)
	}
	return c.Client.GetObject(ctx, in, optFns...)
}

// TestRunSourceReplaced replaces the source while a job reads it: the job
// publishes nothing, neither destination nor rejects, so that an older
// version's outputs cannot overwrite a newer one's, and says why; also when
// the reject limit stops it, which otherwise publishes the rejects.
func TestRunSourceReplaced(t *testing.T) {
	srv := s3test.Start(t)
	for i, limit := range []*int64{nil, new(int64(0))} {
		bucket := srv.Bucket(t, fmt.Sprintf("replaced%d", i))
		srv.Put(t, bucket, "in/x.csv", []byte("id\n1\n\n"))
		api := &replacingClient{Client: srv.Client(csvstream.ClientOptions), t: t, srv: srv, bucket: bucket, key: "in/x.csv", body: []byte("id\n2\n")}
		_, err := csvstream.Run(context.Background(), api, csvstream.Job{
			Source:      csvstream.Location{Bucket: bucket, Key: "in/x.csv"},
			Destination: csvstream.Location{Bucket: bucket, Key: "out/x.csv"},
			MaxRejects:  limit,
		})
		if !errors.Is(err, csvstream.ErrSourceChanged) || !strings.Contains(err.Error(), "in/x.csv") {
			t.Fatalf("max rejects %v: err %v, want ErrSourceChanged naming the source", limit, err)
		}
		if limit != nil && !errors.Is(err, csvstream.ErrTooManyRejects) {
			t.Errorf("max rejects 0: err %v, want ErrTooManyRejects too", err)
		}
		if api.replacements != 1 {
			t.Fatalf("the source was replaced %d times, want once", api.replacements)
		}
		for _, key := range []string{"out/x.csv", "out/x.csv" + csvstream.RejectsSuffix} {
			if _, err := api.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &bucket, Key: &key}); err == nil {
				t.Errorf("max rejects %v: %s was published", limit, key)
			}
		}
		if ups := srv.Uploads(t, bucket); len(ups) != 0 {
			t.Errorf("%d multipart uploads left behind", len(ups))
		}
	}
}

// TestRunSourceReplacedLeavesNoLocalFiles replaces an S3 source while a
// job writing local outputs reads it: as for S3 outputs, nothing is
// published, and neither output leaves its temporary file behind; also
// when the reject limit stops the job, which otherwise publishes the
// rejects.
func TestRunSourceReplacedLeavesNoLocalFiles(t *testing.T) {
	srv := s3test.Start(t)
	for i, limit := range []*int64{nil, new(int64(0))} {
		bucket := srv.Bucket(t, fmt.Sprintf("replacedlocal%d", i))
		srv.Put(t, bucket, "in/x.csv", []byte("id\n1\n\n"))
		api := &replacingClient{Client: srv.Client(csvstream.ClientOptions), t: t, srv: srv, bucket: bucket, key: "in/x.csv", body: []byte("id\n2\n")}
		dir := t.TempDir()
		_, err := csvstream.Run(context.Background(), api, csvstream.Job{
			Source:      csvstream.Location{Bucket: bucket, Key: "in/x.csv"},
			Destination: csvstream.Location{Path: filepath.Join(dir, "x.csv")},
			MaxRejects:  limit,
		})
		if !errors.Is(err, csvstream.ErrSourceChanged) || api.replacements != 1 {
			t.Fatalf("max rejects %v: err %v after %d replacements, want ErrSourceChanged after one", limit, err, api.replacements)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			var names []string
			for _, e := range left {
				names = append(names, e.Name())
			}
			t.Errorf("max rejects %v: %q left in the outputs' directory, want nothing", limit, names)
		}
	}
}

// TestRunEmptyS3Source runs a job on an empty object in S3: the check that
// the source is unchanged must not ask a range of an object with no bytes
// (S3 answers 416 InvalidRange), so the job succeeds with empty outputs.
func TestRunEmptyS3Source(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "emptysrc")
	srv.Put(t, bucket, "in/empty.csv", []byte{})
	sum, err := csvstream.Run(context.Background(), srv.Client(csvstream.ClientOptions), csvstream.Job{
		Source:      csvstream.Location{Bucket: bucket, Key: "in/empty.csv"},
		Destination: csvstream.Location{Bucket: bucket, Key: "out/empty.csv"},
	})
	if err != nil {
		t.Fatalf("empty S3 source: %v", err)
	}
	if sum.Rows != 0 {
		t.Errorf("summary %+v", sum)
	}
	if got := srv.Get(t, bucket, "out/empty.csv"); len(got) != 0 {
		t.Errorf("output %q, want empty", got)
	}
}

// TestRunTooManyRejectsNoETag checks that a job stopped by its reject
// limit, whose destination was discarded, reports no destination ETag,
// even though the rejects were published to S3.
func TestRunTooManyRejectsNoETag(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "etag")
	srv.Put(t, bucket, "in/people.csv", []byte("id,name,age\n1,A,3\n2,x,-1\n"))
	sum, err := csvstream.Run(context.Background(), srv.Client(csvstream.ClientOptions), csvstream.Job{
		Source:      csvstream.Location{Bucket: bucket, Key: "in/people.csv"},
		Destination: csvstream.Location{Bucket: bucket, Key: "out/people.csv"},
		Schema:      mustSchema(t, peopleSchema),
		MaxRejects:  new(int64(0)),
	})
	if !errors.Is(err, csvstream.ErrTooManyRejects) {
		t.Fatalf("err %v, want ErrTooManyRejects", err)
	}
	if sum.ETag != "" {
		t.Errorf("summary ETag %q for a destination that was not written", sum.ETag)
	}
}

// TestRunTooManyRejectsDiscardsLocalDestination checks that a job stopped
// by its reject limit discards the destination's temporary file: only the
// source and the published rejects are left.
func TestRunTooManyRejectsDiscardsLocalDestination(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(src, []byte("id,name,age\n1,A,3\n2,x,-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := csvstream.Run(context.Background(), nil, csvstream.Job{
		Source:      csvstream.Location{Path: src},
		Destination: csvstream.Location{Path: filepath.Join(dir, "out.csv")},
		Schema:      mustSchema(t, peopleSchema),
		MaxRejects:  new(int64(0)),
	})
	if !errors.Is(err, csvstream.ErrTooManyRejects) {
		t.Fatalf("err %v, want ErrTooManyRejects", err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if n := e.Name(); n != "in.csv" && n != "out.csv"+csvstream.RejectsSuffix {
			t.Errorf("left behind: %s", n)
		}
	}
}

// TestRunRefusesNaNRejectRatio checks that a NaN MaxRejectRatio, which
// no ratio exceeds, is refused rather than silently setting no limit.
func TestRunRefusesNaNRejectRatio(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(src, []byte("id\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	nan := math.NaN()
	_, err := csvstream.Run(context.Background(), nil, csvstream.Job{
		Source:         csvstream.Location{Path: src},
		Destination:    csvstream.Location{Path: filepath.Join(dir, "out.csv")},
		MaxRejectRatio: &nan,
	})
	if !errors.Is(err, csvstream.ErrInvalidJob) {
		t.Fatalf("err %v, want ErrInvalidJob", err)
	}
}

// TestRunOutputCheckFailureDiscardsLocalDestination checks that a job
// whose S3 rejects cannot be written (no such bucket) discards the local
// destination's temporary file it had opened.
func TestRunOutputCheckFailureDiscardsLocalDestination(t *testing.T) {
	srv := s3test.Start(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(src, []byte("id\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := csvstream.Run(context.Background(), srv.Client(csvstream.ClientOptions), csvstream.Job{
		Source:      csvstream.Location{Path: src},
		Destination: csvstream.Location{Path: filepath.Join(dir, "out.csv")},
		Rejects:     csvstream.Location{Bucket: "no-such-bucket-mutkill", Key: "r.csv"},
	})
	if err == nil {
		t.Fatal("no error for a rejects bucket that does not exist")
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != "in.csv" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// TestRunRejectsQuoteFieldNames checks the rejects' field column: a
// header label holding a comma or a line feed (kept when quoted) is
// quoted, so that the rejects stay one problem per CSV record.
func TestRunRejectsQuoteFieldNames(t *testing.T) {
	schema := mustSchema(t, `{"fields": [{"name": "amount, USD", "type": "integer"}, {"name": "a\nb", "type": "integer"}]}`)
	_, err, _, rej := runLocal(t, "\"amount, USD\",\"a\nb\"\nx,y\n", csvstream.Job{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(rej)).ReadAll()
	if err != nil {
		t.Fatalf("rejects are not valid CSV: %v\n%s", err, rej)
	}
	if len(recs) != 3 || recs[1][3] != "amount, USD" || recs[2][3] != "a\nb" || recs[1][5] != "x,y" || recs[2][5] != "x,y" {
		t.Errorf("rejects %q, want one line for each field, naming it", recs)
	}
}

// TestRunRejectsRowOverOneMiB rejects a row whose raw bytes alone pass the
// 1 MiB the copies of a row may take in the rejects: it still gets one
// line, as every rejected row does.
func TestRunRejectsRowOverOneMiB(t *testing.T) {
	long := strings.Repeat("z", 1<<20+1)
	input := "id,name,age\n" + "x," + long + ",1\n" + "2,b,2\n"
	sum, err, out, rej := runLocal(t, input, csvstream.Job{
		Schema: mustSchema(t, peopleSchema),
		Scan:   csvstream.ScanOptions{MaxRecordSize: 2 << 20},
	})
	if err != nil {
		t.Fatal(err)
	}
	if out != "id,name,age\n2,b,2\n" || sum.Rejected != 1 || sum.RejectsByCode[csvstream.CodeTypeError] != 1 {
		t.Fatalf("output %q, summary %+v", out, sum)
	}
	recs, err := csv.NewReader(strings.NewReader(rej)).ReadAll()
	if err != nil {
		t.Fatalf("rejects are not valid CSV: %v", err)
	}
	if len(recs) != 2 || recs[1][2] != csvstream.CodeTypeError || recs[1][5] != "x,"+long+",1" {
		t.Fatalf("rejects have %d lines, want the header and one line holding the row", len(recs))
	}
}

// TestRunTooManyRejectsOnStandardOutput stops a job whose rejects go to
// standard output: they are written there, and the message says so,
// rather than naming "-".
func TestRunTooManyRejectsOnStandardOutput(t *testing.T) {
	dir := t.TempDir()
	var stdout strings.Builder
	_, err := csvstream.Run(context.Background(), nil, csvstream.Job{
		Source: csvstream.Stdio, Stdin: strings.NewReader("id,name,age\n1,a,2\nx,b,3\n"),
		Destination: csvstream.Location{Path: filepath.Join(dir, "out.csv")},
		Rejects:     csvstream.Stdio, Stdout: &stdout,
		Schema:     mustSchema(t, peopleSchema),
		MaxRejects: new(int64(0)),
	})
	if !errors.Is(err, csvstream.ErrTooManyRejects) || !strings.HasSuffix(err.Error(), "(the rejects so far are in standard output)") {
		t.Fatalf("err %v, want ErrTooManyRejects saying the rejects are in standard output", err)
	}
	if got := stdout.String(); !strings.HasPrefix(got, "line,record,error,field,message,raw\n3,2,type-error,id,") {
		t.Errorf("standard output holds %q, want the rejects so far", got)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("files left behind: %v", left)
	}
}

// TestRunRejectsStreamFailureDiscardsDestination fails the rejects, a
// stream, as they are completed: the destination, whose file was written
// in full, is discarded with them, not left as a temporary file.
func TestRunRejectsStreamFailureDiscardsDestination(t *testing.T) {
	dir := t.TempDir()
	_, err := csvstream.Run(context.Background(), nil, csvstream.Job{
		Source: csvstream.Stdio, Stdin: strings.NewReader("id,name,age\n1,a,2\nx,b,3\n"),
		Destination: csvstream.Location{Path: filepath.Join(dir, "out.csv")},
		Rejects:     csvstream.Stdio, Stdout: failingWriter{},
		Schema: mustSchema(t, peopleSchema),
	})
	if !errors.Is(err, errReaderGone) || !errors.Is(err, csvstream.ErrUploadFailed) {
		t.Fatalf("err %v, want the stream's failure as a failed output", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("files left behind: %v", left)
	}
}

// TestRunRejectsOpenFailureDiscardsDestination names as the rejects a
// socket no one listens on: the job fails as it opens them, and discards
// the destination it had opened, leaving no temporary file.
func TestRunRejectsOpenFailureDiscardsDestination(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "r.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	_, err = csvstream.Run(context.Background(), nil, csvstream.Job{
		Source: csvstream.Stdio, Stdin: strings.NewReader("id\n1\n"),
		Destination: csvstream.Location{Path: filepath.Join(dir, "out.csv")},
		Rejects:     csvstream.Location{Path: sock},
	})
	if !errors.Is(err, csvstream.ErrUploadFailed) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err %v, want a failed output: the connection refused", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 1 || left[0].Name() != "r.sock" {
		t.Errorf("files left: %v, want the socket alone", left)
	}
}

// TestRunStandardOutputWithoutStdout gives a job an output on standard
// output but no Stdout: it is refused as an invalid job before the source
// is read, as a job reading standard input without Stdin is.
func TestRunStandardOutputWithoutStdout(t *testing.T) {
	for _, tc := range []struct {
		name     string
		dst, rej csvstream.Location
	}{
		{"destination", csvstream.Stdio, csvstream.Location{Path: filepath.Join(t.TempDir(), "r.csv")}},
		{"rejects", csvstream.Location{Path: filepath.Join(t.TempDir(), "out.csv")}, csvstream.Stdio},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := strings.NewReader("a\n1\n")
			_, err := csvstream.Run(context.Background(), nil, csvstream.Job{
				Source: csvstream.Stdio, Stdin: in, Destination: tc.dst, Rejects: tc.rej,
			})
			if !errors.Is(err, csvstream.ErrInvalidJob) || !strings.Contains(err.Error(), "standard output, but the job has no Stdout") {
				t.Errorf("err %v, want ErrInvalidJob: no Stdout", err)
			}
			if in.Len() != 4 {
				t.Errorf("the source was read (%d of 4 bytes left) before the job was refused", in.Len())
			}
		})
	}
}

// TestOpenSourceCutWhileRead: a local file, named or at standard input,
// cut shorter while it is read fails at its end with ErrSourceChanged,
// rather than ending the input early; one that grows is read whole.
func TestOpenSourceCutWhileRead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stdin  bool
		cutTo  int64 // -1: appended to instead
		wantOK bool
	}{
		{"path cut to nothing", false, 0, false},
		{"path cut past what was read", false, 6000, false},
		{"path appended to", false, -1, true},
		{"standard input cut", true, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "in.csv")
			data := bytes.Repeat([]byte("1,abc\n"), 2000)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			loc, stdin := csvstream.Location{Path: path}, io.Reader(nil)
			if tc.stdin {
				f, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				loc, stdin = csvstream.Location{Path: "-"}, f
			}
			r, err := csvstream.OpenSource(context.Background(), nil, loc, stdin, csvstream.ReaderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, err := io.ReadFull(r, make([]byte, 4096)); err != nil {
				t.Fatal(err)
			}
			if tc.cutTo >= 0 {
				err = os.Truncate(path, tc.cutTo)
			} else {
				err = appendFile(path, []byte("2,def\n"))
			}
			if err != nil {
				t.Fatal(err)
			}
			rest, err := io.ReadAll(r)
			switch {
			case tc.wantOK && (err != nil || 4096+len(rest) != len(data)+6):
				t.Errorf("read %d bytes more, %v; want the rest and the appended line", len(rest), err)
			case !tc.wantOK && !errors.Is(err, csvstream.ErrSourceChanged):
				t.Errorf("read %d bytes more, %v; want ErrSourceChanged", len(rest), err)
			}
		})
	}
}

func appendFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	return errors.Join(err, f.Close())
}

// TestOpenSourceGrownThenCut: a file appended to, read past its first
// size, then cut below where it had been read to, is cut too, read from
// its start or from standard input at a later offset.
func TestOpenSourceGrownThenCut(t *testing.T) {
	for _, offset := range []int64{-1, 0, 6000} { // -1: a named path
		t.Run(fmt.Sprint(offset), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "in.csv")
			if err := os.WriteFile(path, bytes.Repeat([]byte("1,abc\n"), 2000), 0o644); err != nil { // 12,000 bytes
				t.Fatal(err)
			}
			loc, stdin := csvstream.Location{Path: path}, io.Reader(nil)
			if offset >= 0 {
				f, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if _, err := f.Seek(offset, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				loc, stdin = csvstream.Location{Path: "-"}, f
			}
			r, err := csvstream.OpenSource(context.Background(), nil, loc, stdin, csvstream.ReaderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if err := appendFile(path, bytes.Repeat([]byte("2,def\n"), 2000)); err != nil { // 24,000
				t.Fatal(err)
			}
			// Read to byte 18,000 of the file, past its first size.
			if _, err := io.ReadFull(r, make([]byte, 18000-max(offset, 0))); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, 15000); err != nil {
				t.Fatal(err)
			}
			if rest, err := io.ReadAll(r); !errors.Is(err, csvstream.ErrSourceChanged) {
				t.Errorf("read %d bytes more, %v; want ErrSourceChanged: cut below where it was read to", len(rest), err)
			}
		})
	}
}
