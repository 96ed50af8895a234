// Package faultproxy is an HTTP proxy for tests that sits between a real S3
// client and a real S3 server and injects faults into chosen requests:
// error responses, connections cut mid-request or mid-response, bytes
// flipped in a request or a response body, requests left without an
// answer, and responses sent slowly.
//
// The proxy forwards the Host header unchanged, so SigV4 signatures made for
// the proxy's address still verify at the server.
package faultproxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Kind is what a fault does to the request it matches.
type Kind int

const (
	// Status answers with Fault.Status and an S3 XML error whose code is
	// Fault.Code, without forwarding the request.
	Status Kind = iota
	// CutRequest reads Fault.After bytes of the request body, then drops the
	// connection without answering.
	CutRequest
	// FlipByte flips the bits of the request body's byte at Fault.After and
	// forwards the corrupted request.
	FlipByte
	// CutResponse forwards the request, sends the response headers and
	// Fault.After bytes of the body, then drops the connection. A body of at
	// most Fault.After bytes reaches the client whole, though Fired counts
	// the fault: a test relying on the cut should check what the client saw.
	CutResponse
	// Stall reads the request body, then neither forwards the request nor
	// answers, like a server or network that stopped responding, until the
	// client gives up on the request and closes the connection, or the test
	// ends.
	Stall
	// StallResponse forwards the request, sends the response headers and
	// Fault.After bytes of the body, then sends nothing more, keeping the
	// connection open, until the client closes it or the test ends. A body
	// of at most Fault.After bytes is sent whole, and nothing is held back.
	StallResponse
	// FlipResponseByte forwards the request and the response, with the bits
	// of the response body's byte at Fault.After flipped.
	FlipResponseByte
	// SlowResponse forwards the request and sends the response body at
	// Fault.Rate bytes a second, as one connection to a distant server
	// would.
	SlowResponse
	// DropResponse forwards the request, then drops the connection before
	// the response's headers, so that the server did what was asked and
	// the client never hears of it.
	DropResponse
)

// Fault describes one injected failure.
type Fault struct {
	Kind   Kind
	Match  func(*http.Request) bool // nil matches every request
	Times  int                      // how many matching requests it hits; 0 means 1
	Status int                      // for Status
	Code   string                   // for Status: the S3 error code, e.g. "SlowDown"
	After  int64                    // byte offset for CutRequest, FlipByte, CutResponse, StallResponse, FlipResponseByte
	Rate   int64                    // bytes a second for SlowResponse
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	// URL is the proxy's base URL, to be used as the client's endpoint.
	URL string

	target *url.URL
	client *http.Client

	ctx context.Context // done when the test ends: stalled requests are dropped

	mu     sync.Mutex
	faults []*pending
	fired  map[Kind]int
	seen   []seen
}

// seen is a request the proxy saw, as Requests, Calls and Ranges tell it.
type seen struct {
	method string
	url    *url.URL
	rng    string // its Range header
}

type pending struct {
	Fault
	left int
}

// New starts a proxy in front of target (an http:// base URL) and closes it
// when the test ends.
func New(tb testing.TB, target string) *Proxy {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatalf("faultproxy: target %q: %v", target, err)
	}
	p := &Proxy{
		target: u,
		client: &http.Client{Transport: &http.Transport{DisableCompression: true}},
		fired:  make(map[Kind]int),
	}
	var cancel context.CancelFunc
	p.ctx, cancel = context.WithCancel(context.Background())
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	tb.Cleanup(func() {
		cancel()
		srv.Close()
		p.client.CloseIdleConnections()
	})
	p.URL = srv.URL
	return p
}

// Inject queues a fault; faults are tried in the order they were added.
func (p *Proxy) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	p.mu.Lock()
	p.faults = append(p.faults, &pending{Fault: f, left: f.Times})
	p.mu.Unlock()
}

// Fired returns how many times faults of the kind have been injected.
func (p *Proxy) Fired(k Kind) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fired[k]
}

// Requests returns "METHOD path?query" for every request seen, in order.
func (p *Proxy) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var reqs []string
	for _, r := range p.seen {
		reqs = append(reqs, r.method+" "+r.url.RequestURI())
	}
	return reqs
}

// Calls names every request seen, in order, by its S3 operation and its
// key in bucket, with the Range it asks for, such as "GetObject in/a.csv
// bytes=0-0" or "CreateMultipartUpload out/a.csv".
func (p *Proxy) Calls(bucket string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var names []string
	for _, r := range p.seen {
		q := r.url.Query()
		op := q.Get("x-id")
		switch {
		case r.method == http.MethodPost && q.Has("uploads"):
			op = "CreateMultipartUpload"
		case r.method == http.MethodPost && q.Has("uploadId"):
			op = "CompleteMultipartUpload"
		case r.method == http.MethodHead:
			op = "HeadObject"
		case op == "":
			op = r.method
		}
		key := strings.TrimPrefix(r.url.Path, "/"+bucket+"/")
		name := op + " " + key
		if r.rng != "" {
			name += " " + r.rng
		}
		names = append(names, name)
	}
	return names
}

// Ranges returns the Range header of every request seen that had one, in
// order.
func (p *Proxy) Ranges() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ranges []string
	for _, r := range p.seen {
		if r.rng != "" {
			ranges = append(ranges, r.rng)
		}
	}
	return ranges
}

func (p *Proxy) take(r *http.Request) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := *r.URL
	p.seen = append(p.seen, seen{method: r.Method, url: &u, rng: r.Header.Get("Range")})
	for _, f := range p.faults {
		if f.left > 0 && (f.Match == nil || f.Match(r)) {
			f.left--
			p.fired[f.Kind]++
			ff := f.Fault
			return &ff
		}
	}
	return nil
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	f := p.take(r)
	if f != nil && f.Kind == Status {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(f.Status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected by faultproxy</Message><RequestId>faultproxy</RequestId></Error>`, f.Code)
		return
	}
	if f != nil && f.Kind == CutRequest {
		// Read only part of the body, then drop the connection.
		_, _ = io.CopyN(io.Discard, r.Body, f.After)
		panic(http.ErrAbortHandler)
	}
	if f != nil && f.Kind == Stall {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done(): // the client closed the connection
		case <-p.ctx.Done():
		}
		panic(http.ErrAbortHandler)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if f != nil && f.Kind == FlipByte && f.After < int64(len(body)) {
		body[f.After] ^= 0xff
	}

	// The request upstream ends with the client's or the test, so that no
	// read of its answer outlasts the test.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(p.ctx, cancel)()
	out, err := http.NewRequestWithContext(ctx, r.Method, p.target.String()+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	out.Host = r.Host
	out.ContentLength = int64(len(body))
	resp, err := p.client.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if f != nil && f.Kind == DropResponse {
		panic(http.ErrAbortHandler)
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	if f != nil && (f.Kind == CutResponse || f.Kind == StallResponse) {
		n, _ := io.CopyN(w, resp.Body, f.After)
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		if f.Kind == StallResponse {
			var b [1]byte
			if m, err := io.ReadFull(resp.Body, b[:]); n < f.After || m == 0 && err == io.EOF {
				return // the whole body was sent: there is nothing to hold back
			}
			<-ctx.Done()
		}
		panic(http.ErrAbortHandler)
	}
	switch {
	case f != nil && f.Kind == FlipResponseByte:
		n, _ := io.CopyN(w, resp.Body, f.After)
		var b [1]byte
		if n == f.After {
			if m, _ := io.ReadFull(resp.Body, b[:]); m == 1 {
				b[0] ^= 0xff
				_, _ = w.Write(b[:])
			}
		}
	case f != nil && f.Kind == SlowResponse && f.Rate > 0:
		// Send a slice every 10ms, so that the rate holds over short bodies.
		slice := max(f.Rate/100, 1)
		start := time.Now()
		var sent int64
		for {
			n, err := io.CopyN(w, resp.Body, slice)
			sent += n
			if err != nil {
				return
			}
			if fl, ok := w.(http.Flusher); ok {
				fl.Flush()
			}
			due := start.Add(time.Duration(sent * int64(time.Second) / f.Rate))
			select {
			case <-time.After(time.Until(due)):
			case <-r.Context().Done():
				return
			}
		}
	}
	_, _ = io.Copy(w, resp.Body)
}

// IsPartUpload matches UploadPart requests, optionally for one part number
// (0 matches any part).
func IsPartUpload(part int) func(*http.Request) bool {
	return func(r *http.Request) bool {
		q := r.URL.Query()
		if r.Method != http.MethodPut || q.Get("uploadId") == "" || q.Get("partNumber") == "" {
			return false
		}
		return part == 0 || q.Get("partNumber") == fmt.Sprint(part)
	}
}

// IsGet matches GetObject requests whose path ends with key: GETs of the
// key that name no sub-resource, such as ListParts' uploadId.
func IsGet(key string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/"+key) {
			return false
		}
		for name := range r.URL.Query() {
			if name != "x-id" && name != "versionId" && name != "partNumber" && !strings.HasPrefix(name, "response-") {
				return false
			}
		}
		return true
	}
}

// IsGetRange matches GetObject requests for key with the Range header rng,
// such as "bytes=0-1023".
func IsGetRange(key, rng string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return IsGet(key)(r) && r.Header.Get("Range") == rng
	}
}

// IsRangedGet matches GetObject requests that carry a Range header.
func IsRangedGet(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Range") != ""
}

// IsCreateUpload matches CreateMultipartUpload requests.
func IsCreateUpload(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Has("uploads")
}

// IsListUploads matches ListMultipartUploads requests.
func IsListUploads(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.Query().Has("uploads")
}

// IsListParts matches ListParts requests.
func IsListParts(r *http.Request) bool {
	q := r.URL.Query()
	return r.Method == http.MethodGet && q.Get("uploadId") != "" && !q.Has("partNumber")
}

// IsHead matches HeadObject requests.
func IsHead(r *http.Request) bool { return r.Method == http.MethodHead }

// IsPutObject matches PutObject requests (not UploadPart) whose path ends
// with key.
func IsPutObject(key string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return r.Method == http.MethodPut && r.URL.Query().Get("uploadId") == "" && strings.HasSuffix(r.URL.Path, "/"+key)
	}
}

// IsCompleteUpload matches CompleteMultipartUpload requests.
func IsCompleteUpload(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Get("uploadId") != ""
}

// IsAbortUpload matches AbortMultipartUpload requests.
func IsAbortUpload(r *http.Request) bool {
	return r.Method == http.MethodDelete && r.URL.Query().Get("uploadId") != ""
}

// Seeds returns the seeds a chaos test runs: those the environment
// variable env lists, such as "7,12" or "1-200,350", or defaults when it is
// unset. A list it cannot read fails tb.
func Seeds(tb testing.TB, env string, defaults []uint64) []uint64 {
	tb.Helper()
	list := os.Getenv(env)
	if list == "" {
		return defaults
	}
	var seeds []uint64
	for _, field := range strings.Split(list, ",") {
		first, last, isRange := strings.Cut(strings.TrimSpace(field), "-")
		lo, err := strconv.ParseUint(first, 10, 64)
		hi := lo
		if err == nil && isRange {
			hi, err = strconv.ParseUint(last, 10, 64)
		}
		if err != nil || hi < lo {
			tb.Fatalf("%s=%q: want seeds and ranges such as 7,12,20-40", env, list)
		}
		for s := lo; ; s++ { // not s <= hi, which the last uint64 always is
			seeds = append(seeds, s)
			if s == hi {
				break
			}
		}
	}
	return seeds
}
