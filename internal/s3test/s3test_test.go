package s3test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func TestServerRoundTrip(t *testing.T) {
	s := Start(t)
	b := s.Bucket(t, "roundtrip")
	want := []byte("id,name\n1,a\n")
	s.Put(t, b, "dir/x y.csv", want)
	if got := s.Get(t, b, "dir/x y.csv"); !bytes.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if n := len(s.Uploads(t, b)); n != 0 {
		t.Fatalf("uploads in progress: %d", n)
	}
}

// TestBinaryNamedButMissing checks that a versitygw named by
// $CSVSTREAM_VERSITYGW that is not there is an error, not a silent switch
// to ./bin or $PATH, which may hold another version.
func TestBinaryNamedButMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "versitygw-v1.8.0")
	t.Setenv("CSVSTREAM_VERSITYGW", missing)
	if p, err := Binary(); err == nil {
		t.Fatalf("Binary() = %q, nil with $CSVSTREAM_VERSITYGW=%s (missing); want an error naming it", p, missing)
	}
}

// TestRequiredUnderCI checks the package doc: the tests fail rather than
// skip "if $CSVSTREAM_REQUIRE_S3 or $CI is set".
func TestRequiredUnderCI(t *testing.T) {
	t.Setenv("CSVSTREAM_REQUIRE_S3", "")
	for _, v := range []string{"true", "1", "yes", "True"} {
		t.Setenv("CI", v)
		if !Required() {
			t.Errorf("Required() = false with CI=%s", v)
		}
	}
}

// TestWaitReadyIsOurServer checks that waitReady does not take an answer
// from another server on the chosen port as our versitygw being ready: a
// versitygw that lost the port to another listener (freeAddr closes the
// port before versitygw binds it) exits, and the test must not go on to
// talk to whatever else answers there.
func TestWaitReadyIsOurServer(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden) // what any S3 server says to an unsigned GET /
	}))
	defer other.Close()
	// Our process: it fails to bind the port and exits at once.
	proc, err := StartProcess("/bin/sh", []string{"-c", "sleep 0.2; echo 'listen tcp: address already in use' >&2; exit 1"}, nil, &SyncBuffer{})
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Stop()
	s := &Server{Endpoint: other.URL, Dir: t.TempDir(), proc: proc}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.waitReady(ctx, 3*time.Second); err == nil {
		t.Fatal("waitReady = nil for a versitygw that exited without serving: the test would talk to another server on its port")
	}
}

// recordTB records whether Start failed or skipped the test; both end the
// goroutine that called them, as testing.T's do.
type recordTB struct {
	testing.TB
	failed, skipped bool
}

func (r *recordTB) Fatalf(string, ...any) { r.failed = true; runtime.Goexit() }
func (r *recordTB) Skipf(string, ...any)  { r.skipped = true; runtime.Goexit() }

// TestStartRequiredFails checks the package doc: with $CSVSTREAM_REQUIRE_S3
// set (as under `make test`), a server that cannot be started fails the
// test instead of skipping it, so that no integration test passes in CI
// without having run; and without it, or $CI, the test is skipped.
func TestStartRequiredFails(t *testing.T) {
	t.Setenv("CSVSTREAM_VERSITYGW", filepath.Join(t.TempDir(), "missing-versitygw"))
	t.Setenv("CI", "")
	for _, tc := range []struct {
		require, ci        string
		wantFail, wantSkip bool
	}{
		{"1", "", true, false},
		{"1", "false", true, false},
		{"", "false", false, true},
		{"", "0", false, true},
		{"", "", false, true},
	} {
		t.Setenv("CSVSTREAM_REQUIRE_S3", tc.require)
		t.Setenv("CI", tc.ci)
		rec := &recordTB{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			Start(rec)
		}()
		<-done
		if rec.failed != tc.wantFail || rec.skipped != tc.wantSkip {
			t.Errorf("CSVSTREAM_REQUIRE_S3=%q CI=%q: failed %v, skipped %v; want %v, %v", tc.require, tc.ci, rec.failed, rec.skipped, tc.wantFail, tc.wantSkip)
		}
	}
}
