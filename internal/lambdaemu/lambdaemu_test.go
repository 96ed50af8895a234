package lambdaemu

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func start(t *testing.T) *Server {
	t.Helper()
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// poll is one runtime client's GET .../next.
func poll(t *testing.T, s *Server) (id string, h http.Header, body []byte) {
	t.Helper()
	resp, err := http.Get("http://" + s.Addr + apiPrefix + "/invocation/next")
	if err != nil {
		t.Fatalf("next: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("next: status %d", resp.StatusCode)
	}
	body, _ = io.ReadAll(resp.Body)
	return resp.Header.Get("Lambda-Runtime-Aws-Request-Id"), resp.Header, body
}

func post(t *testing.T, s *Server, path, body string, header map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.Addr+apiPrefix+path, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestInvokeResponseAndError(t *testing.T) {
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	okInv := s.Enqueue([]byte(`{"n":1}`), 5*time.Second)
	errInv := s.Enqueue([]byte(`{"n":2}`), 0)

	before := time.Now()
	id, h, body := poll(t, s)
	if id != okInv.ID || string(body) != `{"n":1}` {
		t.Fatalf("first poll got %s %s, want %s {\"n\":1}", id, body, okInv.ID)
	}
	ms, err := strconv.ParseInt(h.Get("Lambda-Runtime-Deadline-Ms"), 10, 64)
	if d := time.UnixMilli(ms).Sub(before); err != nil || d < 4*time.Second || d > 6*time.Second {
		t.Errorf("deadline header %q is %v away, want about 5s", h.Get("Lambda-Runtime-Deadline-Ms"), d)
	}
	if h.Get("Lambda-Runtime-Invoked-Function-Arn") != DefaultFunctionARN {
		t.Errorf("function ARN %q", h.Get("Lambda-Runtime-Invoked-Function-Arn"))
	}
	if tr := h.Get("Lambda-Runtime-Trace-Id"); !strings.HasPrefix(tr, "Root=1-") {
		t.Errorf("trace id %q", tr)
	}
	if got := post(t, s, "/invocation/"+id+"/response", `{"ok":true}`, nil); got != http.StatusAccepted {
		t.Fatalf("response: status %d", got)
	}
	if got := post(t, s, "/invocation/"+id+"/response", `{}`, nil); got != http.StatusBadRequest {
		t.Errorf("second response for the same id: status %d, want 400", got)
	}
	res, err := s.Wait(ctx, okInv)
	if err != nil || string(res.Response) != `{"ok":true}` || res.Err != nil || res.RequestID != okInv.ID {
		t.Fatalf("result %+v, %v", res, err)
	}

	id, _, _ = poll(t, s)
	if got := post(t, s, "/invocation/"+id+"/error", `{"errorType":"SourceNotFound","errorMessage":"gone"}`, nil); got != http.StatusAccepted {
		t.Fatalf("error: status %d", got)
	}
	res, err = s.Wait(ctx, errInv)
	if err != nil || res.Err == nil || res.Err.Type != "SourceNotFound" || res.Err.Message != "gone" {
		t.Fatalf("result %+v (err %+v), %v", res, res.Err, err)
	}
	if got := post(t, s, "/invocation/nope/response", `{}`, nil); got != http.StatusBadRequest {
		t.Errorf("unknown id: status %d, want 400", got)
	}
	if s.MaxInFlight() != 1 {
		t.Errorf("max in flight %d, want 1", s.MaxInFlight())
	}
}

func TestInitError(t *testing.T) {
	s := start(t)
	if s.InitError() != nil {
		t.Fatal("init error before any was sent")
	}
	hdr := map[string]string{"Lambda-Runtime-Function-Error-Type": "Runtime.ConfigError"}
	if got := post(t, s, "/init/error", `{"errorMessage":"CSVSTREAM_OUTPUT is required"}`, hdr); got != http.StatusAccepted {
		t.Fatalf("init error: status %d", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fe, err := s.WaitInitError(ctx)
	if err != nil || fe.Type != "Runtime.ConfigError" || fe.Message != "CSVSTREAM_OUTPUT is required" {
		t.Fatalf("init error %+v, %v", fe, err)
	}
}

func TestConcurrentPolls(t *testing.T) {
	s := start(t)
	const n = 4
	var invs []*Invocation
	for i := range n {
		invs = append(invs, s.Enqueue([]byte(strconv.Itoa(i)), 0))
	}
	// n runtime loops each take one event before any answers.
	ids := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, _, _ := poll(t, s)
			ids <- id
		}()
	}
	wg.Wait()
	close(ids)
	for id := range ids {
		post(t, s, "/invocation/"+id+"/response", `"done"`, nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, inv := range invs {
		if res, err := s.Wait(ctx, inv); err != nil || string(res.Response) != `"done"` {
			t.Errorf("invocation %s: %+v, %v", inv.ID, res, err)
		}
	}
	if got := s.MaxInFlight(); got != n {
		t.Errorf("max in flight %d, want %d", got, n)
	}
}

// waitingPolls returns how many polls s holds, waiting for an invocation.
func waitingPolls(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls
}

// TestCloseEndsPollsAndWaits closes the server while a poll waits for an
// invocation: Close ends the poll without handing one out, and Wait for an
// invocation never queued returns an error instead of waiting.
func TestCloseEndsPollsAndWaits(t *testing.T) {
	s := start(t)
	polled := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + s.Addr + apiPrefix + "/invocation/next")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				err = io.ErrUnexpectedEOF // an invocation was handed out
			}
		}
		polled <- err
	}()
	for start := time.Now(); waitingPolls(s) == 0; time.Sleep(time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatal("the poll never reached the server")
		}
	}
	inv := &Invocation{ID: "never-queued", done: make(chan struct{})}
	s.Close()
	select {
	case err := <-polled:
		if err == io.ErrUnexpectedEOF {
			t.Fatal("a poll got an invocation after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a pending poll was not ended by Close")
	}
	if _, err := s.Wait(context.Background(), inv); err == nil {
		t.Fatal("Wait after Close: no error")
	}
}

// TestAnswersOnlyInvocationsInProgress checks that the server refuses an
// answer it should not take: for an invocation still queued (the function
// never got it), or one too large, and that a refused answer leaves the
// invocation to the answer that counts.
func TestAnswersOnlyInvocationsInProgress(t *testing.T) {
	s := start(t)
	queued := s.Enqueue([]byte(`{}`), 0)
	if got := post(t, s, "/invocation/"+queued.ID+"/response", `"too early"`, nil); got != http.StatusBadRequest {
		t.Errorf("response for an invocation not handed out: status %d, want 400", got)
	}
	if got := post(t, s, "/invocation/"+queued.ID+"/error", `{"errorType":"X"}`, nil); got != http.StatusBadRequest {
		t.Errorf("error for an invocation not handed out: status %d, want 400", got)
	}
	id, _, _ := poll(t, s)
	if got := post(t, s, "/invocation/"+id+"/response", strings.Repeat("x", maxBody+1), nil); got != http.StatusRequestEntityTooLarge {
		t.Errorf("response of %d bytes: status %d, want 413", maxBody+1, got)
	}
	if got := post(t, s, "/invocation/"+id+"/response", `"ok"`, nil); got != http.StatusAccepted {
		t.Fatalf("response: status %d", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if res, err := s.Wait(ctx, queued); err != nil || string(res.Response) != `"ok"` || res.Err != nil {
		t.Errorf("result %+v, %v; want the answer given once the invocation was handed out", res, err)
	}
}

// TestFunctionErrorForms checks the error reports parseFunctionError
// reads: a body that is not JSON becomes the message, and a type sent as
// a trailer after a streamed body counts.
func TestFunctionErrorForms(t *testing.T) {
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	plain := s.Enqueue(nil, 0)
	id, _, _ := poll(t, s)
	post(t, s, "/invocation/"+id+"/error", "panic: boom", nil)
	if res, err := s.Wait(ctx, plain); err != nil || res.Err == nil || res.Err.Message != "panic: boom" || res.Err.Type != "" {
		t.Errorf("plain-text error: %+v, %v; want the body as the message", res.Err, err)
	}

	streamed := s.Enqueue(nil, 0)
	id, _, _ = poll(t, s)
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.Addr+apiPrefix+"/invocation/"+id+"/error", strings.NewReader("partial"))
	req.Trailer = http.Header{"Lambda-Runtime-Function-Error-Type": nil}
	req.ContentLength = -1
	body := req.Body
	req.Body = readerFunc(func(b []byte) (int, error) {
		n, err := body.Read(b)
		if err == io.EOF {
			req.Trailer.Set("Lambda-Runtime-Function-Error-Type", "Runtime.StreamError")
		}
		return n, err
	})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if res, err := s.Wait(ctx, streamed); err != nil || res.Err == nil || res.Err.Type != "Runtime.StreamError" {
		t.Errorf("streamed error: %+v, %v; want the trailer's type", res.Err, err)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(b []byte) (int, error) { return f(b) }
func (f readerFunc) Close() error               { return nil }

// TestOptionsAndFirstInitError checks that Options.FunctionARN is what the
// function is told, and that the first init error is the one kept.
func TestOptionsAndFirstInitError(t *testing.T) {
	const arn = "arn:aws:lambda:eu-west-1:111122223333:function:other"
	s, err := Start(Options{FunctionARN: arn})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Enqueue(nil, 0)
	if _, h, _ := poll(t, s); h.Get("Lambda-Runtime-Invoked-Function-Arn") != arn {
		t.Errorf("function ARN %q, want %q", h.Get("Lambda-Runtime-Invoked-Function-Arn"), arn)
	}
	post(t, s, "/init/error", `{"errorType":"First","errorMessage":"a"}`, nil)
	post(t, s, "/init/error", `{"errorType":"Second","errorMessage":"b"}`, nil)
	if fe := s.InitError(); fe == nil || fe.Type != "First" {
		t.Errorf("init error %+v, want the first one reported", fe)
	}
}

// TestWaitAfterCloseKeepsAnswers checks Close's doc: only invocations still
// waiting fail with ErrClosed; one already answered keeps its answer.
func TestWaitAfterCloseKeepsAnswers(t *testing.T) {
	s := start(t)
	var invs []*Invocation
	for range 20 {
		inv := s.Enqueue(nil, 0)
		id, _, _ := poll(t, s)
		post(t, s, "/invocation/"+id+"/response", `"done"`, nil)
		invs = append(invs, inv)
	}
	s.Close()
	for _, inv := range invs {
		if res, err := s.Wait(context.Background(), inv); err != nil || string(res.Response) != `"done"` {
			t.Fatalf("Wait after Close for an answered invocation: %+v, %v", res, err)
		}
	}
}

// TestLateAnswerTimesOut checks that an answer posted after the
// invocation's deadline does not count, as Lambda, which stops the
// function at its deadline, would never have taken it: the invocation
// fails with Lambda's Sandbox.Timedout, whether the late answer was a
// response or an error, and one given in time still counts.
func TestLateAnswerTimesOut(t *testing.T) {
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tests := []struct {
		name     string
		path     string // the answer's endpoint
		body     string
		wait     time.Duration // before answering
		wantType string        // "" for the response to count
	}{
		{"response in time", "response", `"ok"`, 0, ""},
		{"late response", "response", `"ok"`, 300 * time.Millisecond, TimedOut},
		{"late error", "error", `{"errorType":"Timeout","errorMessage":"stopped"}`, 300 * time.Millisecond, TimedOut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := s.Enqueue([]byte(`{}`), 200*time.Millisecond)
			id, _, _ := poll(t, s)
			time.Sleep(tt.wait)
			post(t, s, "/invocation/"+id+"/"+tt.path, tt.body, nil)
			res, err := s.Wait(ctx, inv)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.wantType == "" && (res.Err != nil || string(res.Response) != tt.body):
				t.Errorf("answer in time: response %q, error %+v; want the response", res.Response, res.Err)
			case tt.wantType != "" && (res.Err == nil || res.Err.Type != tt.wantType || res.Response != nil):
				t.Errorf("answer %v after a 200ms deadline: response %q, error %+v; want a %s error alone", tt.wait, res.Response, res.Err, tt.wantType)
			case tt.wantType != "" && !strings.Contains(res.Err.Message, "Task timed out after 0.20 seconds"):
				t.Errorf("message %q does not say the task timed out after its 0.20 seconds", res.Err.Message)
			}
		})
	}
}
