package csvstream

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzRun checks that Run loses nothing, for any input: every record the
// Scanner finds is either in the output, byte for byte and in order, or in
// the rejects, whose raw column holds it without its line end; the rejects
// are CSV that encoding/csv reads; and the summary's counts reconcile. It
// runs without a schema and with one, under small record bounds and reads
// of every size, so that the copy loop's batches, the cut records and the
// rejects all meet odd boundaries; and as JSON Lines, whose objects must
// hold the values of the records kept: as strings without a schema, and
// typed, with missing values as null, under a schema read at ';'.
func FuzzRun(f *testing.F) {
	for _, seed := range []string{
		"1,x\n2,y\n",
		"1,x\n2,long\n3,y\n4\n5,z\n",
		"1,\"x\r\ny\"\r\n1,dup\r\n",
		"1\n2,y,z\n,\n\"open,\n3,ok\n",
		"12345678901234567890,long\n4,\xff\n5,\"q\"\"q\"",
		"\xef\xbb\xbfa,b\n\n7,\"\"\n",
	} {
		f.Add([]byte(seed))
	}
	schema, err := ParseSchema([]byte(`{"fields": [
		{"name": "a", "type": "integer", "constraints": {"unique": true}},
		{"name": "b", "constraints": {"maxLength": 3}}]}`))
	if err != nil {
		f.Fatal(err)
	}
	typed, err := ParseSchema([]byte(`{"fields": [
		{"name": "a", "type": "integer"},
		{"name": "b", "type": "boolean", "constraints": {"required": true}},
		{"name": "c", "constraints": {"unique": true}}],
		"missingValues": ["", "NA"], "primaryKey": ["a", "b"]}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("1;true;x\n+2;0;NA\nNA;1;\n007;TRUE;\"y;\"\"z\"\n1;true;w\n-0;False;\"\"\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, tc := range []struct {
			header string // put before the input, so that the schema's header is there
			job    Job
			reader func(io.Reader) io.Reader
		}{
			{"", Job{}, func(r io.Reader) io.Reader { return r }},
			{"", Job{Scan: ScanOptions{MaxRecordSize: 8}}, iotest.OneByteReader},
			{"", Job{Format: FormatJSONL}, iotest.HalfReader},
			{"a,b\n", Job{Schema: schema, Scan: ScanOptions{MaxRecordSize: 12}}, iotest.HalfReader},
			{"a;b;c\n", Job{Schema: typed, Format: FormatJSONL, Scan: ScanOptions{Comma: ';'}}, iotest.HalfReader},
		} {
			checkRunLossless(t, append([]byte(tc.header), in...), tc.job, tc.reader)
		}
	})
}

// checkRunLossless runs in through Run as job and checks its outputs
// against the records the Scanner finds in in. A JSON Lines job must write
// each kept record as an object keyed by the header's labels in order; its
// values are strings without a schema, and with one as jsonValue says.
func checkRunLossless(t *testing.T, in []byte, job Job, reader func(io.Reader) io.Reader) {
	t.Helper()
	var out bytes.Buffer
	rejects := filepath.Join(t.TempDir(), "rejects.csv")
	job.Source, job.Destination, job.Rejects = Stdio, Stdio, Location{Path: rejects}
	job.Stdin, job.Stdout = reader(bytes.NewReader(in)), &out
	sum, err := Run(context.Background(), nil, job)
	if err != nil {
		// A header the job cannot take fails it at once, with nothing
		// written: there is nothing to reconcile.
		if sum.Rows != 0 || out.Len() != 0 {
			t.Fatalf("failed job (%v) counted %d rows and wrote %d bytes", err, sum.Rows, out.Len())
		}
		return
	}
	rej, err := os.ReadFile(rejects)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := csv.NewReader(bytes.NewReader(rej)).ReadAll(); err != nil {
		t.Fatalf("rejects are not CSV: %v\n%q", err, rej)
	}
	// encoding/csv turns a CRLF inside quotes into LF: the Scanner reads
	// the raw column as written.
	rs, err := NewScanner(bytes.NewReader(rej), ScanOptions{MaxRecordSize: len(rej) + 1})
	if err != nil {
		t.Fatal(err)
	}
	rejected := map[int64]string{} // record number: raw column
	for rs.Scan() {
		l := rs.Record()
		if l.Err != nil || l.NumFields() != 6 {
			t.Fatalf("rejects line %q: %v, %d fields", l.Raw, l.Err, l.NumFields())
		}
		if l.Num == 0 {
			continue
		}
		n, err := strconv.ParseInt(string(l.Field(1)), 10, 64)
		if err != nil || n < 1 {
			t.Fatalf("rejects line %q: record %q", l.Raw, l.Field(1))
		}
		raw := string(l.Field(5))
		if seen, ok := rejected[n]; ok && seen != raw {
			t.Fatalf("record %d: rejects lines differ in raw: %q and %q", n, seen, raw)
		}
		rejected[n] = raw
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}

	sc, err := NewScanner(bytes.NewReader(in), job.Scan)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte // the header and the records not rejected, or their JSON Lines
	var labels []string
	var rows int64
	for sc.Scan() {
		rec := sc.Record()
		raw, isRejected := rejected[rec.Num]
		switch {
		case rec.Num == 0 && job.Format == FormatJSONL:
			v, err := NewValidator(nil, rec)
			if err != nil {
				t.Fatalf("the job took a header the Validator refuses: %v", err)
			}
			labels = v.Header()
		case job.Format == FormatJSONL && !isRejected:
			want = append(want, '{')
			for i, l := range labels {
				k, _ := json.Marshal(l)
				v := jsonValue(t, job.Schema, i, rec.Field(i))
				want = append(append(append(want, k...), ':'), v...)
				if i < len(labels)-1 {
					want = append(want, ',')
				}
			}
			want = append(want, "}\n"...)
		case rec.Num == 0 || !isRejected:
			want = append(want, rec.Raw...)
		case raw != string(withoutLineEnd(rec.Raw)):
			t.Fatalf("record %d: rejects hold raw %q, the source %q", rec.Num, raw, rec.Raw)
		}
		if rec.Num > 0 {
			rows++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if job.Format == FormatJSONL {
		// The same objects, whatever escapes each writer chose.
		if got, want := compactLines(t, out.Bytes()), compactLines(t, want); got != want {
			t.Fatalf("JSON Lines output:\n%s\nwant the records not rejected:\n%s", got, want)
		}
	} else if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("output %q, want the header and the records not rejected: %q", out.Bytes(), want)
	}
	if sum.Rows != rows || sum.Rejected != int64(len(rejected)) || sum.Valid+sum.Rejected != sum.Rows {
		t.Fatalf("summary rows %d = valid %d + rejected %d; the source holds %d records, the rejects %d",
			sum.Rows, sum.Valid, sum.Rejected, rows, len(rejected))
	}
	if sum.BytesIn != int64(len(in)) || sum.BytesOut != int64(out.Len()) {
		t.Fatalf("summary bytes in %d, out %d; want %d and %d", sum.BytesIn, sum.BytesOut, len(in), out.Len())
	}
}

// jsonValue is the JSON a kept value b of column i must become: a string
// without a schema; with one, null for a missing value, a number for an
// integer, true or false for a boolean, and a string otherwise. It knows
// only the types FuzzRun's schemas use.
func jsonValue(t *testing.T, s *Schema, i int, b []byte) []byte {
	t.Helper()
	str, _ := json.Marshal(string(b))
	if s == nil {
		return str
	}
	missing := s.MissingValues
	if missing == nil {
		missing = []string{""}
	}
	for _, m := range missing {
		if string(b) == m {
			return []byte("null")
		}
	}
	switch f := s.Fields[i]; f.Type {
	case "integer":
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			t.Fatalf("column %q kept %q, which is not an integer: %v", f.Name, b, err)
		}
		if n == 0 && b[0] == '-' {
			return []byte("-0") // the sign as written, a JSON integer all the same
		}
		return strconv.AppendInt(nil, n, 10)
	case "boolean":
		switch string(b) {
		case "true", "True", "TRUE", "1":
			return []byte("true")
		case "false", "False", "FALSE", "0":
			return []byte("false")
		}
		t.Fatalf("column %q kept %q, which is not a boolean", f.Name, b)
	}
	return str
}

// compactLines rewrites JSON Lines with every string spelled one way, so
// that two writers' lines compare equal when they hold the same objects,
// keys in the same order; numbers must be spelled alike.
func compactLines(t *testing.T, b []byte) string {
	t.Helper()
	var all []string
	for line := range bytes.Lines(b) {
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber() // numbers as written
		var parts []string
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("line %q is not JSON: %v", line, err)
			}
			parts = append(parts, fmt.Sprintf("%#v", tok))
		}
		all = append(all, strings.Join(parts, " "))
	}
	return strings.Join(all, "\n")
}
