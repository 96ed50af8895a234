package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/csvstream/csvstream/internal/s3test"
)

func TestEventObject(t *testing.T) {
	tests := []struct {
		name        string
		event       string
		bucket, key string
		wantErr     string
	}{
		{
			name:   "encoded key",
			event:  `{"Records":[{"s3":{"bucket":{"name":"in"},"object":{"key":"incoming/daily+orders+caf%C3%A9.csv"}}}]}`,
			bucket: "in", key: "incoming/daily orders café.csv",
		},
		{
			name:   "plus sign encoded",
			event:  `{"Records":[{"s3":{"bucket":{"name":"in"},"object":{"key":"a%2Bb.csv"}}}]}`,
			bucket: "in", key: "a+b.csv",
		},
		{name: "no records", event: `{"Records":[]}`, wantErr: "no Records[0]"},
		{name: "not JSON", event: `nope`, wantErr: "not an S3 event"},
		{name: "bad escape", event: `{"Records":[{"s3":{"bucket":{"name":"in"},"object":{"key":"a%zz"}}}]}`, wantErr: `key "a%zz"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket, key, err := eventObject([]byte(tt.event))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if bucket != tt.bucket || key != tt.key {
				t.Errorf("got s3://%s/%s, want s3://%s/%s", bucket, key, tt.bucket, tt.key)
			}
		})
	}
}

func TestPrefixWriter(t *testing.T) {
	var out bytes.Buffer
	w := prefixWriter(&out, "fn | ")
	for _, chunk := range []string{"one\ntw", "o\n", "", "three\nfour"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if want := "fn | one\nfn | two\nfn | three\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// TestDemo runs the whole demo: the real bootstrap and CLI, built for this
// machine, against versitygw. It checks the demo's own checks passed and
// that the S3 server it started no longer answers afterwards.
func TestDemo(t *testing.T) {
	vgw, err := s3test.Binary()
	if err != nil {
		if s3test.Required() {
			t.Fatalf("versitygw: %v", err)
		}
		t.Skipf("versitygw unavailable (set CSVSTREAM_REQUIRE_S3=1 to fail instead): %v", err)
	}
	dir := t.TempDir()
	build := func(out, pkg string, tags ...string) string {
		t.Helper()
		args := []string{"build", "-o", filepath.Join(dir, out)}
		if len(tags) > 0 {
			args = append(args, "-tags", strings.Join(tags, ","))
		}
		cmd := exec.Command("go", append(args, pkg)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
		return filepath.Join(dir, out)
	}
	opt := options{
		versitygw: vgw,
		bootstrap: build("bootstrap", "github.com/csvstream/csvstream/cmd/bootstrap", "lambda.norpc"),
		cli:       build("csvstream", "github.com/csvstream/csvstream/cmd/csvstream"),
		event:     filepath.Join("..", "..", "events", "s3-put.json"),
		rows:      20000,
		invalid:   25,
		seed:      7,
		lines:     3,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, opt, &out); err != nil {
		t.Fatalf("demo failed: %v\noutput:\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"counts reconcile: 20000 rows = 19200 valid + 800 rejected, as generated",
		"s3://csvstream-demo-output/valid/daily orders café.csv",
		"s3://csvstream-demo-output/rejects/daily orders café.csv.rejects.csv",
		"no multipart uploads left in progress",
		"the same counts as the function",
		"order_id,customer_email", // the first line of the valid rows
		"line,record,error",       // the first line of the rejects
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q\noutput:\n%s", want, got)
		}
	}
	m := regexp.MustCompile(`endpoint http://(\S+)`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("output names no endpoint:\n%s", got)
	}
	if c, err := net.DialTimeout("tcp", m[1], time.Second); err == nil {
		c.Close()
		t.Errorf("the S3 server on %s still answers after the demo", m[1])
	}
}

// TestHeadOddKeys reads objects whose keys hold characters a URL would
// take apart: head must read the key as csvstream printed it.
func TestHeadOddKeys(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "demohead")
	for _, key := range []string{"valid/q? # 100%.csv", "valid/a%20b.csv"} {
		srv.Put(t, bucket, key, []byte("id\n1\n"))
		lines, err := head(context.Background(), srv.Client(), "s3://"+bucket+"/"+key, 5)
		if err != nil || !slices.Equal(lines, []string{"id", "1"}) {
			t.Errorf("head %q: %q, %v; want the object's two lines", key, lines, err)
		}
	}
}
