package faultproxy_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/csvstream/csvstream/internal/faultproxy"
	"github.com/csvstream/csvstream/internal/s3test"
)

// cleanupTB holds the cleanups it is given, so that a test can run them
// itself and fail, rather than hang, when one never returns.
type cleanupTB struct {
	testing.TB
	fns []func()
}

func (c *cleanupTB) Cleanup(f func()) { c.fns = append(c.fns, f) }

// closesWithin runs the cleanups, last first, and reports whether they
// all returned within d.
func (c *cleanupTB) closesWithin(d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		for i := len(c.fns) - 1; i >= 0; i-- {
			c.fns[i]()
		}
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// TestStallResponseWholeBody checks StallResponse on a body exactly
// Fault.After bytes long: the client has the whole answer, so the fault
// must neither hold the next request sent on the same connection nor keep
// the proxy from closing.
func TestStallResponseWholeBody(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "stallwhole")
	data := bytes.Repeat([]byte("0123456789"), 1000)
	srv.Put(t, bucket, "k", data)

	ctb := &cleanupTB{TB: t}
	p := faultproxy.New(ctb, srv.Endpoint)
	defer func() {
		if !ctb.closesWithin(5 * time.Second) {
			t.Error("the proxy did not close within 5s: a StallResponse handler is still waiting")
		}
	}()
	client := s3test.ClientFor(p.URL, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	get := func() ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
		if err != nil {
			return nil, err
		}
		defer out.Body.Close()
		return io.ReadAll(out.Body)
	}

	p.Inject(faultproxy.Fault{Kind: faultproxy.StallResponse, After: int64(len(data)), Match: faultproxy.IsGet("k")})
	if got, err := get(); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stalled GET of a body of After bytes: %d bytes, %v; want the whole object", len(got), err)
	}
	// The fault is spent: the next GET must be answered at once.
	if got, err := get(); err != nil || !bytes.Equal(got, data) {
		t.Errorf("next GET on the same client: %d bytes, %v; want the whole object", len(got), err)
	}
}

// TestStallEndsWithTest checks that a request left stalled when its test
// ends (here: a client with no timeout, as when the code under test fails
// to give up) does not keep the proxy's cleanup, and with it the test
// binary, waiting until go test's -timeout, which loses the test's output.
func TestStallEndsWithTest(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	ctb := &cleanupTB{TB: t}
	p := faultproxy.New(ctb, backend.URL)
	p.Inject(faultproxy.Fault{Kind: faultproxy.Stall})
	go func() {
		if resp, err := http.Get(p.URL + "/bucket/key"); err == nil {
			resp.Body.Close()
		}
	}()
	for p.Fired(faultproxy.Stall) == 0 {
		time.Sleep(time.Millisecond)
	}
	if !ctb.closesWithin(10 * time.Second) {
		t.Error("the proxy's cleanup still waits on the stalled request after 10s")
	}
}

// TestStallResponseEndsWithTestSlowUpstream stalls an answer whose server
// pauses after Fault.After bytes, with the client still waiting: the
// proxy's look for a further byte must end with the test too.
func TestStallResponseEndsWithTestSlowUpstream(t *testing.T) {
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "0123456789")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer backend.Close()
	defer close(release)
	ctb := &cleanupTB{TB: t}
	p := faultproxy.New(ctb, backend.URL)
	p.Inject(faultproxy.Fault{Kind: faultproxy.StallResponse, After: 10})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(p.URL + "/bucket/key")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadFull(resp.Body, make([]byte, 10)); err != nil {
		t.Fatalf("the first 10 bytes: %v", err)
	}
	if !ctb.closesWithin(5 * time.Second) {
		t.Error("the proxy's cleanup still waits on a StallResponse whose server paused after After bytes")
	}
}

// TestTimesAndFiredConcurrent sends 50 requests at once through a fault
// of Times 10: exactly 10 get the fault, with an S3 error body, the other
// 40 reach the server, and Fired and Requests count them all.
func TestTimesAndFiredConcurrent(t *testing.T) {
	var upstream atomic.Int64
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { upstream.Add(1); io.WriteString(w, "ok") }))
	defer be.Close()
	p := faultproxy.New(t, be.URL)
	p.Inject(faultproxy.Fault{Kind: faultproxy.Status, Status: 503, Code: "SlowDown", Times: 10})
	var wg sync.WaitGroup
	var n503 atomic.Int64
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(p.URL + "/b/k")
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 503 {
				n503.Add(1)
				if !strings.Contains(string(b), "<Code>SlowDown</Code>") {
					t.Errorf("503 body %s, want an S3 error with code SlowDown", b)
				}
			}
		}()
	}
	wg.Wait()
	if n503.Load() != 10 || p.Fired(faultproxy.Status) != 10 || upstream.Load() != 40 {
		t.Errorf("%d answers of 503, %d faults fired, %d requests reached the server; want 10, 10 and 40", n503.Load(), p.Fired(faultproxy.Status), upstream.Load())
	}
	if n := len(p.Requests()); n != 50 {
		t.Errorf("%d requests recorded, want 50", n)
	}
}

// TestCutRequestNotForwarded cuts a request's body: the client's request
// fails, and the server never sees it.
func TestCutRequestNotForwarded(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("a cut request reached the server") }))
	defer be.Close()
	p := faultproxy.New(t, be.URL)
	p.Inject(faultproxy.Fault{Kind: faultproxy.CutRequest, After: 1000})
	if resp, err := http.Post(p.URL+"/b/k", "x", bytes.NewReader(make([]byte, 1<<20))); err == nil {
		resp.Body.Close()
		t.Errorf("status %d; want the request cut", resp.StatusCode)
	}
}

// TestMatchers checks that each matcher passes over the requests most like
// the one it names: another method, key, range or part, or another step of
// a multipart upload.
func TestMatchers(t *testing.T) {
	mk := func(m, u, rng string) *http.Request {
		r := httptest.NewRequest(m, u, nil)
		if rng != "" {
			r.Header.Set("Range", rng)
		}
		return r
	}
	cases := []struct {
		name string
		f    func(*http.Request) bool
		r    *http.Request
		want bool
	}{
		{"IsGet head", faultproxy.IsGet("k"), mk("HEAD", "/b/k", ""), false},
		{"IsGet plain", faultproxy.IsGet("k"), mk("GET", "/b/k", ""), true},
		{"IsGet other key", faultproxy.IsGet("k"), mk("GET", "/b/xk", ""), false},
		{"IsGet sdk", faultproxy.IsGet("k"), mk("GET", "/b/k?x-id=GetObject&versionId=v", ""), true},
		{"IsGet list parts", faultproxy.IsGet("k"), mk("GET", "/b/k?uploadId=u&x-id=ListParts", ""), false},
		{"IsGet attributes", faultproxy.IsGet("k"), mk("GET", "/b/k?attributes=&x-id=GetObjectAttributes", ""), false},
		{"IsGetRange other", faultproxy.IsGetRange("k", "bytes=0-9"), mk("GET", "/b/k", "bytes=0-99"), false},
		{"IsPartUpload 1 vs 10", faultproxy.IsPartUpload(1), mk("PUT", "/b/k?uploadId=u&partNumber=10", ""), false},
		{"IsPutObject part", faultproxy.IsPutObject("k"), mk("PUT", "/b/k?uploadId=u&partNumber=1", ""), false},
		{"IsPutObject copy", faultproxy.IsPutObject("k"), mk("PUT", "/b/k?x-id=PutObject", ""), true},
		{"IsComplete create", faultproxy.IsCompleteUpload, mk("POST", "/b/k?uploads=", ""), false},
		{"IsCreate complete", faultproxy.IsCreateUpload, mk("POST", "/b/k?uploadId=u", ""), false},
		{"IsListUploads listparts", faultproxy.IsListUploads, mk("GET", "/b/k?uploadId=u", ""), false},
		{"IsAbort delete obj", faultproxy.IsAbortUpload, mk("DELETE", "/b/k", ""), false},
		{"IsListParts", faultproxy.IsListParts, mk("GET", "/b/k?max-parts=1&uploadId=u&x-id=ListParts", ""), true},
		{"IsListParts get part", faultproxy.IsListParts, mk("GET", "/b/k?partNumber=1&uploadId=u", ""), false},
		{"IsListParts list uploads", faultproxy.IsListParts, mk("GET", "/b?uploads=", ""), false},
		{"IsHead", faultproxy.IsHead, mk("HEAD", "/b/k", ""), true},
		{"IsHead get", faultproxy.IsHead, mk("GET", "/b/k", ""), false},
	}
	for _, c := range cases {
		if got := c.f(c.r); got != c.want {
			t.Errorf("%s: %s %s matched: %v, want %v", c.name, c.r.Method, c.r.URL, got, c.want)
		}
	}
}

// TestDropResponseForwards pins DropResponse: the server gets and
// carries out the request, and the client gets no answer.
func TestDropResponseForwards(t *testing.T) {
	var reached atomic.Int64
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1); w.WriteHeader(204) }))
	defer be.Close()
	p := faultproxy.New(t, be.URL)
	p.Inject(faultproxy.Fault{Kind: faultproxy.DropResponse})
	req, _ := http.NewRequest(http.MethodDelete, p.URL+"/b/k?uploadId=u", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("status %d; want no answer", resp.StatusCode)
	}
	if reached.Load() != 1 {
		t.Fatalf("the server got %d requests; want 1", reached.Load())
	}
}

// TestStallNeverForwards pins Stall: the request never reaches the server
// and gets no answer, so the client gives up on it.
func TestStallNeverForwards(t *testing.T) {
	var reached atomic.Int64
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	defer be.Close()
	p := faultproxy.New(t, be.URL)
	p.Inject(faultproxy.Fault{Kind: faultproxy.Stall})
	client := &http.Client{Timeout: 300 * time.Millisecond}
	if resp, err := client.Post(p.URL+"/b/k?uploadId=u&partNumber=1", "x", strings.NewReader("part")); err == nil {
		resp.Body.Close()
		t.Fatalf("status %d; want no answer", resp.StatusCode)
	}
	if reached.Load() != 0 || p.Fired(faultproxy.Stall) != 1 {
		t.Errorf("the server got %d requests, %d stalls fired; want 0 and 1", reached.Load(), p.Fired(faultproxy.Stall))
	}
}

// TestCutRequestMidBody pins where CutRequest cuts: the client has sent
// at least Fault.After bytes of the body when the connection drops, so a
// cut "mid-part" is one, not a cut before the body.
func TestCutRequestMidBody(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("a cut request reached the server") }))
	defer be.Close()
	p := faultproxy.New(t, be.URL)
	const after, size = 32 << 20, 96 << 20
	p.Inject(faultproxy.Fault{Kind: faultproxy.CutRequest, After: after})
	body := &countingReader{left: size}
	req, _ := http.NewRequest(http.MethodPut, p.URL+"/b/k?uploadId=u&partNumber=1", body)
	req.ContentLength = size
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	if resp, err := (&http.Client{Transport: tr}).Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("status %d; want the request cut", resp.StatusCode)
	}
	// What the proxy read was sent; the socket buffers hold a few MiB more.
	if n := body.read.Load(); n < after || n > after+(24<<20) {
		t.Errorf("the client sent %d bytes before the cut; want %d and at most the socket buffers more", n, after)
	}
}

// countingReader yields left zero bytes and counts those read.
type countingReader struct {
	left int64
	read atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(b)), c.left))
	clear(b[:n])
	c.left -= int64(n)
	c.read.Add(int64(n))
	return n, nil
}

// TestBodyFaultsAtTheirOffset pins the byte faults: FlipByte corrupts the
// request body's byte at Fault.After and no other, FlipResponseByte the
// response body's, and CutResponse hands over exactly Fault.After bytes of
// the answer before the connection drops.
func TestBodyFaultsAtTheirOffset(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	}))
	defer be.Close()
	sent := bytes.Repeat([]byte("0123456789"), 10000)
	flipped := func(at int) []byte {
		b := bytes.Clone(sent)
		b[at] ^= 0xff
		return b
	}
	tests := []struct {
		fault faultproxy.Fault
		want  []byte // the body the client reads before any error
		cut   bool   // the client's read of the body ends in an error
	}{
		{faultproxy.Fault{Kind: faultproxy.FlipByte, After: 12345}, flipped(12345), false},
		{faultproxy.Fault{Kind: faultproxy.FlipResponseByte, After: 777}, flipped(777), false},
		{faultproxy.Fault{Kind: faultproxy.CutResponse, After: 4321}, sent[:4321], true},
		{faultproxy.Fault{Kind: faultproxy.CutResponse, After: 0}, nil, true},
	}
	for _, tt := range tests {
		p := faultproxy.New(t, be.URL)
		p.Inject(tt.fault)
		tr := &http.Transport{}
		resp, err := (&http.Client{Transport: tr}).Post(p.URL+"/b/k", "x", bytes.NewReader(sent))
		if err != nil {
			t.Fatalf("kind %d: %v", tt.fault.Kind, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		if !bytes.Equal(got, tt.want) || (err != nil) != tt.cut {
			t.Errorf("kind %d after %d: read %d bytes (equal to the wanted %d: %v), then %v; want cut %v",
				tt.fault.Kind, tt.fault.After, len(got), len(tt.want), bytes.Equal(got, tt.want), err, tt.cut)
		}
	}
}

// TestSeeds checks the seed lists a chaos test's variable may give.
func TestSeeds(t *testing.T) {
	const env = "FAULTPROXY_TEST_SEEDS"
	defaults := []uint64{1, 2}
	tests := []struct {
		list string
		want []uint64
	}{
		{"", defaults},
		{"7", []uint64{7}},
		{"7,12", []uint64{7, 12}},
		{"3-5, 9", []uint64{3, 4, 5, 9}},
		{"4-4", []uint64{4}},
		{"18446744073709551614-18446744073709551615", []uint64{1<<64 - 2, 1<<64 - 1}},
	}
	for _, tt := range tests {
		t.Setenv(env, tt.list)
		if got := faultproxy.Seeds(t, env, defaults); !slices.Equal(got, tt.want) {
			t.Errorf("%s=%q: seeds %v, want %v", env, tt.list, got, tt.want)
		}
	}
}

// TestCalls checks the names Calls gives the requests an S3 client sends.
func TestCalls(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	p := faultproxy.New(t, backend.URL)
	tests := []struct {
		method, uri, rng string
		want             string
	}{
		{"GET", "/b/in/a%20b.csv?x-id=GetObject", "", "GetObject in/a b.csv"},
		{"GET", "/b/in/a.csv?x-id=GetObject", "bytes=0-0", "GetObject in/a.csv bytes=0-0"},
		{"HEAD", "/b/in/a.csv", "", "HeadObject in/a.csv"},
		{"POST", "/b/out/a.csv?uploads", "", "CreateMultipartUpload out/a.csv"},
		{"POST", "/b/out/a.csv?uploadId=u1", "", "CompleteMultipartUpload out/a.csv"},
		{"PUT", "/b/out/a%2Bb.csv?partNumber=1&uploadId=u1&x-id=UploadPart", "", "UploadPart out/a+b.csv"},
		{"DELETE", "/b/out/a.csv?uploadId=u1&x-id=AbortMultipartUpload", "", "AbortMultipartUpload out/a.csv"},
		{"PUT", "/b/out/a.csv", "", "PUT out/a.csv"},
	}
	var want []string
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, p.URL+tt.uri, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tt.rng != "" {
			req.Header.Set("Range", tt.rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want = append(want, tt.want)
	}
	if got := p.Calls("b"); !slices.Equal(got, want) {
		t.Errorf("calls:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}
