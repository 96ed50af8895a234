// Package lambdaemu is a minimal AWS Lambda Runtime API server, so that a
// function's real bootstrap binary can be run and invoked on loopback: by
// tests, and by demo programs that want to show a function at work without
// an AWS account.
//
// It serves the runtime side of the protocol a function's runtime client
// speaks (version 2018-06-01): queued events are handed out on
// GET /runtime/invocation/next with the Lambda-Runtime-Aws-Request-Id,
// -Deadline-Ms, -Invoked-Function-Arn and -Trace-Id headers, and the
// function's answers to POST /runtime/invocation/{id}/response and
// /runtime/invocation/{id}/error, and to POST /runtime/init/error, are
// recorded. Point a function at it by setting AWS_LAMBDA_RUNTIME_API to
// Server.Addr.
//
// An answer that arrives after the invocation's deadline does not count:
// Lambda stops a function at its deadline and reports Sandbox.Timedout, and
// so does the server, though it cannot stop the function.
//
// Several runtime loops may poll at once (AWS_LAMBDA_MAX_CONCURRENCY), and
// the server tracks how many invocations were in flight at the same time.
package lambdaemu

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

const apiPrefix = "/2018-06-01/runtime"

// Defaults for the zero Options.
const (
	// DefaultFunctionARN is the ARN handed to the function when
	// Options.FunctionARN is empty.
	DefaultFunctionARN = "arn:aws:lambda:us-east-1:123456789012:function:csvstream"
	// DefaultTimeout is an invocation's time limit when none is given.
	DefaultTimeout = 30 * time.Second
)

// maxQueued is how many invocations may wait to be picked up; Enqueue
// blocks beyond it.
const maxQueued = 1024

// maxBody bounds the bodies the server accepts, as Lambda's 6 MB payload
// limit does, with room to spare.
const maxBody = 16 << 20

// Options configures a Server. The zero value works.
type Options struct {
	// Addr is the address to listen on; empty means a free port on
	// 127.0.0.1.
	Addr string
	// FunctionARN is sent in Lambda-Runtime-Invoked-Function-Arn; empty
	// means DefaultFunctionARN.
	FunctionARN string
}

// Server is a running Runtime API server.
type Server struct {
	// Addr is the host:port the server listens on: the value of
	// AWS_LAMBDA_RUNTIME_API for the function.
	Addr string

	arn    string
	http   *http.Server
	queue  chan *Invocation
	closed chan struct{}
	once   sync.Once
	served chan struct{} // closed when Serve returns

	mu          sync.Mutex
	polls       int // polls waiting for an invocation
	byID        map[string]*Invocation
	inFlight    int
	maxInFlight int
	initErr     *FunctionError
	initDone    chan struct{} // closed when the first init error arrives
}

// Start starts a server; Close stops it.
func Start(opt Options) (*Server, error) {
	addr := opt.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("lambdaemu: listen on %s: %w", addr, err)
	}
	s := &Server{
		Addr:     ln.Addr().String(),
		arn:      opt.FunctionARN,
		queue:    make(chan *Invocation, maxQueued),
		closed:   make(chan struct{}),
		served:   make(chan struct{}),
		byID:     make(map[string]*Invocation),
		initDone: make(chan struct{}),
	}
	if s.arn == "" {
		s.arn = DefaultFunctionARN
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+apiPrefix+"/invocation/next", s.next)
	mux.HandleFunc("POST "+apiPrefix+"/invocation/{id}/response", s.response)
	mux.HandleFunc("POST "+apiPrefix+"/invocation/{id}/error", s.invocationError)
	mux.HandleFunc("POST "+apiPrefix+"/init/error", s.initError)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.served)
		_ = s.http.Serve(ln)
	}()
	return s, nil
}

// Close stops the server: pending polls are answered with an error, which
// makes a function's runtime loop exit. Invocations still waiting fail
// with ErrClosed. It is safe to call more than once.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		close(s.closed)
		err = s.http.Close()
		<-s.served
	})
	return err
}

// ErrClosed is returned by Wait for an invocation the server was closed
// before answering.
var ErrClosed = errors.New("lambdaemu: server closed")

// Invocation is one queued event and, once the function answers, its
// outcome.
type Invocation struct {
	// ID is the request id the function sees.
	ID string
	// Payload is the event.
	Payload []byte
	// Timeout is the invocation's time limit, counted from when the
	// function picks the event up.
	Timeout time.Duration

	done   chan struct{}
	result Result
}

// Result is how the function answered one invocation.
type Result struct {
	// RequestID is the invocation's request id.
	RequestID string
	// Deadline is the deadline the function was given.
	Deadline time.Time
	// Response is the body of a successful answer.
	Response []byte
	// Err is set when the function reported an error instead, or answered
	// after the deadline (Type TimedOut).
	Err *FunctionError
}

// TimedOut is the error type of an invocation answered after its
// deadline, Lambda's for a function it stopped there.
const TimedOut = "Sandbox.Timedout"

// FunctionError is an error a function reported to the Runtime API.
type FunctionError struct {
	// Type is the errorType of the JSON body, or else the
	// Lambda-Runtime-Function-Error-Type header.
	Type string `json:"errorType"`
	// Message is the errorMessage of the JSON body.
	Message string `json:"errorMessage"`
	// Body is the raw body.
	Body []byte `json:"-"`
}

// Error returns the type and the message, as "Type: Message".
func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Enqueue queues an event for the function and returns at once; timeout
// is the invocation's time limit (zero means DefaultTimeout). It blocks
// only when many events are already waiting.
func (s *Server) Enqueue(payload []byte, timeout time.Duration) *Invocation {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	inv := &Invocation{ID: newRequestID(), Payload: payload, Timeout: timeout, done: make(chan struct{})}
	s.mu.Lock()
	s.byID[inv.ID] = inv
	s.mu.Unlock()
	select {
	case s.queue <- inv:
	case <-s.closed:
	}
	return inv
}

// Invoke queues an event and waits for the function's answer. A function
// error is returned in Result.Err, not as the error, which reports only a
// failure to get an answer at all.
func (s *Server) Invoke(ctx context.Context, payload []byte, timeout time.Duration) (Result, error) {
	return s.Wait(ctx, s.Enqueue(payload, timeout))
}

// Wait waits for the function's answer to inv, until ctx ends or the
// server is closed. An invocation stays queued when its caller stops
// waiting, as an asynchronous Lambda invocation does.
func (s *Server) Wait(ctx context.Context, inv *Invocation) (Result, error) {
	select {
	case <-inv.done:
		return inv.result, nil
	case <-ctx.Done():
		return Result{RequestID: inv.ID}, fmt.Errorf("lambdaemu: invocation %s: %w", inv.ID, ctx.Err())
	case <-s.closed:
		select {
		case <-inv.done:
			return inv.result, nil
		default:
		}
		return Result{RequestID: inv.ID}, fmt.Errorf("invocation %s: %w", inv.ID, ErrClosed)
	}
}

// WaitInitError waits for the function to report an initialization error.
func (s *Server) WaitInitError(ctx context.Context) (*FunctionError, error) {
	select {
	case <-s.initDone:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.initErr, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("lambdaemu: waiting for an init error: %w", ctx.Err())
	}
}

// InitError returns the initialization error the function reported, or
// nil.
func (s *Server) InitError() *FunctionError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.initErr
}

// MaxInFlight returns the largest number of invocations the function has
// held at once: handed out and not yet answered.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.polls++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.polls--
		s.mu.Unlock()
	}()
	var inv *Invocation
	select {
	case inv = <-s.queue:
	case <-r.Context().Done():
		return
	case <-s.closed:
		http.Error(w, "lambdaemu: server closed", http.StatusGone)
		return
	}
	deadline := time.Now().Add(inv.Timeout)
	s.mu.Lock()
	inv.result = Result{RequestID: inv.ID, Deadline: deadline}
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	s.mu.Unlock()

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.ID)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(deadline.UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", s.arn)
	h.Set("Lambda-Runtime-Trace-Id", traceID(inv.ID))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.Payload)
}

func (s *Server) response(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	s.finish(w, r.PathValue("id"), func(res *Result) { res.Response = body })
}

func (s *Server) invocationError(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	fe := parseFunctionError(r, body)
	s.finish(w, r.PathValue("id"), func(res *Result) { res.Err = fe })
}

func (s *Server) initError(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	fe := parseFunctionError(r, body)
	s.mu.Lock()
	first := s.initErr == nil
	if first {
		s.initErr = fe
	}
	s.mu.Unlock()
	if first {
		close(s.initDone)
	}
	accepted(w)
}

// finish records the answer to invocation id, once.
func (s *Server) finish(w http.ResponseWriter, id string, set func(*Result)) {
	s.mu.Lock()
	inv := s.byID[id]
	if inv == nil || inv.result.Deadline.IsZero() {
		s.mu.Unlock()
		apiError(w, http.StatusBadRequest, "InvalidRequestID", fmt.Sprintf("no invocation %q in progress", id))
		return
	}
	delete(s.byID, id)
	if now := time.Now(); now.After(inv.result.Deadline) {
		// Lambda would have stopped the function at its deadline, and
		// never seen this answer.
		inv.result.Err = &FunctionError{Type: TimedOut, Message: fmt.Sprintf("%s %s Task timed out after %.2f seconds",
			now.UTC().Format("2006-01-02T15:04:05.000Z"), id, inv.Timeout.Seconds())}
	} else {
		set(&inv.result)
	}
	s.inFlight--
	s.mu.Unlock()
	close(inv.done)
	accepted(w)
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		apiError(w, http.StatusRequestEntityTooLarge, "RequestTooLarge", err.Error())
		return nil, false
	}
	return body, true
}

// parseFunctionError reads an error report: a JSON body with errorType and
// errorMessage, the error type header, or trailers sent after a streamed
// body broke.
func parseFunctionError(r *http.Request, body []byte) *FunctionError {
	fe := &FunctionError{Body: body}
	_ = json.Unmarshal(body, fe)
	if fe.Type == "" {
		fe.Type = r.Header.Get("Lambda-Runtime-Function-Error-Type")
	}
	if fe.Type == "" {
		fe.Type = r.Trailer.Get("Lambda-Runtime-Function-Error-Type")
	}
	if fe.Message == "" && fe.Type == "" {
		fe.Message = string(body)
	}
	return fe
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func apiError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorType": typ, "errorMessage": msg})
}

// newRequestID returns a random id shaped like Lambda's (a UUID).
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// traceID returns an X-Ray trace header for the invocation.
func traceID(id string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), hex.EncodeToString(b[:]), id[:8]+id[9:13]+id[14:18])
}
