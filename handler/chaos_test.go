package handler

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/csvstream/csvstream/csvstream"
	"github.com/csvstream/csvstream/internal/faultproxy"
	"github.com/csvstream/csvstream/internal/gen"
	"github.com/csvstream/csvstream/internal/leakcheck"
	"github.com/csvstream/csvstream/internal/s3test"
)

// invokeChaosSeeds are the seeds TestInvokeChaos runs, one subtest each
// ("seed=N"); a seed always builds the same event and draws the same
// faults. They were picked among the first 330 for taking little time
// while covering every event shape and most fault kinds (those with 503
// SlowDown on every try take longest, as the S3 client's adaptive mode
// then slows all its requests), and take about 20 seconds under -race on
// a 2-core machine. CSVSTREAM_HANDLER_CHAOS_SEEDS runs others instead,
// such as "7,12" or "1-300".
var invokeChaosSeeds = []uint64{10, 25, 26, 28, 32, 34, 37, 59, 227, 235, 252}

// chaosObject is a source object the chaos events announce, with what a
// local run of it writes: what every job of it that succeeds must publish.
type chaosObject struct {
	name          string // the key under incoming/, and under valid/ for its destination
	data          []byte
	wantDst       []byte
	wantRej       []byte
	ref           csvstream.Summary
	multipart     bool // its valid rows take more than one part
	src, dst, rej string
}

// chaosObjects generates the sources: one whose valid rows make two parts
// of the smallest size, and small ones, whose outputs go up as single
// PutObjects; one key holds a space and one a plus sign, which S3 events
// encode.
func chaosObjects(t *testing.T) []*chaosObject {
	objs := []*chaosObject{{name: "big.csv"}, {name: "a.csv"}, {name: "b c.csv"}, {name: "d+e.csv"}}
	for i, o := range objs {
		rows := 300 + 70*i
		if i == 0 {
			rows = 62_000
		}
		o.data, _ = orders(t, rows, int64(40+i))
		o.wantDst, o.wantRej, o.ref = reference(t, o.data, gen.Schema, "")
		o.multipart = len(o.wantDst) > csvstream.MinPartSize
		o.src, o.dst, o.rej = "incoming/"+o.name, "valid/"+o.name, "rejects/"+o.name+csvstream.RejectsSuffix
	}
	if !objs[0].multipart || len(objs[0].wantDst) > 2*csvstream.MinPartSize {
		t.Fatalf("%s: %d valid bytes, want two parts", objs[0].name, len(objs[0].wantDst))
	}
	return objs
}

// chaosFault is one fault of a seed's invocation. It strikes the requests
// of one object's job, or, with no target, every job (the schema's GET).
type chaosFault struct {
	desc   string
	fault  faultproxy.Fault
	target *chaosObject
	// errTypes are the error types a job it strikes may fail with.
	errTypes []string
	// retries is how many retries it uses up when the retries of the S3
	// client, the writer or the reader absorb it; 0 when it may fail the
	// job whatever they do.
	retries int
	// lostCompletes counts the answers to Complete it cuts off, and
	// lostCreates the answers to CreateMultipartUpload: S3 made an upload
	// whose id never arrived, left to a sweep (as the README says).
	lostCompletes, lostCreates int
	createKey                  string // the key of the lost answers to CreateMultipartUpload
	// deletes marks the source deleted at its deleteAt-th GET.
	deletes  bool
	deleteAt int
	stall    bool // leaves a request unanswered: the plan has a deadline
	hits     atomic.Int32
}

// Matchers of one key's requests.
func isUploadOf(key string) func(*http.Request) bool { // UploadPart or PutObject
	return func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/"+key)
	}
}

func isCreateOf(key string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return faultproxy.IsCreateUpload(r) && strings.HasSuffix(r.URL.Path, "/"+key)
	}
}

func isCompleteOf(key string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return faultproxy.IsCompleteUpload(r) && strings.HasSuffix(r.URL.Path, "/"+key)
	}
}

// chaosTimes draws how many requests a fault hits: once or twice, or
// every time (persistent), one time in three.
func chaosTimes(rng *rand.Rand) (int, bool) {
	if rng.IntN(3) == 0 {
		return 1000, true
	}
	return 1 + rng.IntN(2), false
}

func chaosServerError(rng *rand.Rand) (int, string) {
	if rng.IntN(2) == 0 {
		return 500, "InternalError"
	}
	return 503, "SlowDown"
}

// serverError returns a 500 InternalError or 503 SlowDown, drawn from
// rng, on the requests match takes (what names them), hitting a few times
// or every time.
func serverError(rng *rand.Rand, what string, match func(*http.Request) bool, target *chaosObject, errType string) *chaosFault {
	status, code := chaosServerError(rng)
	times, persistent := chaosTimes(rng)
	return retryable(fmt.Sprintf("%d %s on %s", status, code, what),
		faultproxy.Fault{Kind: faultproxy.Status, Status: status, Code: code, Times: times, Match: match}, target, persistent, errType)
}

// retryable returns a fault the retries absorb when it hits a few times
// and that fails the job with errType when it hits every time.
func retryable(desc string, f faultproxy.Fault, target *chaosObject, persistent bool, errType string) *chaosFault {
	cf := &chaosFault{desc: fmt.Sprintf("%s ×%d", desc, f.Times), fault: f, target: target, errTypes: []string{errType}, retries: f.Times}
	if persistent {
		cf.retries = 0
	}
	return cf
}

// chaosFaults lists the faults a seed draws from, each for a target
// object.
var chaosFaults = []func(rng *rand.Rand, o *chaosObject) *chaosFault{
	func(rng *rand.Rand, o *chaosObject) *chaosFault {
		return serverError(rng, fmt.Sprintf("uploads of %s", o.dst), isUploadOf(o.dst), o, "UploadFailed")
	},
	func(rng *rand.Rand, o *chaosObject) *chaosFault {
		return serverError(rng, fmt.Sprintf("CreateMultipartUpload of %s", o.dst), isCreateOf(o.dst), o, "UploadFailed")
	},
	func(rng *rand.Rand, o *chaosObject) *chaosFault {
		return serverError(rng, fmt.Sprintf("Complete of %s", o.dst), isCompleteOf(o.dst), o, "UploadFailed")
	},
	func(rng *rand.Rand, o *chaosObject) *chaosFault {
		return serverError(rng, fmt.Sprintf("GETs of %s", o.src), faultproxy.IsGet(o.src), o, "SourceReadFailed")
	},
	func(rng *rand.Rand, o *chaosObject) *chaosFault { // mid-part, or mid-PutObject
		after := rng.Int64N(min(1<<20, int64(len(o.wantDst))))
		times, persistent := chaosTimes(rng)
		return retryable(fmt.Sprintf("connection cut after %d bytes of uploads of %s", after, o.dst),
			faultproxy.Fault{Kind: faultproxy.CutRequest, After: after, Times: times, Match: isUploadOf(o.dst)}, o, persistent, "UploadFailed")
	},
	func(rng *rand.Rand, o *chaosObject) *chaosFault {
		after := rng.Int64N(min(1<<20, int64(len(o.wantDst))))
		times, persistent := chaosTimes(rng)
		return retryable(fmt.Sprintf("byte %d of uploads of %s flipped", after, o.dst),
			faultproxy.Fault{Kind: faultproxy.FlipByte, After: after, Times: times, Match: isUploadOf(o.dst)}, o, persistent, "UploadFailed")
	},
	func(rng *rand.Rand, o *chaosObject) *chaosFault { // mid-GET
		after := rng.Int64N(int64(len(o.data)))
		times, _ := chaosTimes(rng)
		f := retryable(fmt.Sprintf("GET answers of %s cut after %d bytes", o.src, after),
			faultproxy.Fault{Kind: faultproxy.CutResponse, After: after, Times: times, Match: faultproxy.IsGet(o.src)}, o, false, "SourceReadFailed")
		if times > 2 {
			// Each break after some bytes still makes progress, but the
			// check GET of one byte breaks too.
			f.retries = 0
		}
		return f
	},
	func(rng *rand.Rand, o *chaosObject) *chaosFault {
		after := rng.Int64N(int64(len(o.data)))
		return &chaosFault{desc: fmt.Sprintf("byte %d of a GET answer of %s flipped", after, o.src), target: o, errTypes: []string{"SourceReadFailed"},
			fault: faultproxy.Fault{Kind: faultproxy.FlipResponseByte, After: after, Match: faultproxy.IsGet(o.src)}}
	},
	func(rng *rand.Rand, o *chaosObject) *chaosFault {
		after := rng.Int64N(int64(len(o.data)))
		return &chaosFault{desc: fmt.Sprintf("GET answers of %s stalled after %d bytes", o.src, after), target: o, stall: true,
			fault: faultproxy.Fault{Kind: faultproxy.StallResponse, After: after, Times: 1000, Match: faultproxy.IsGet(o.src)}}
	},
	func(rng *rand.Rand, o *chaosObject) *chaosFault {
		return &chaosFault{desc: fmt.Sprintf("uploads of %s unanswered", o.dst), target: o, stall: true,
			fault: faultproxy.Fault{Kind: faultproxy.Stall, Times: 1000, Match: isUploadOf(o.dst)}}
	},
	func(rng *rand.Rand, o *chaosObject) *chaosFault {
		times, _ := chaosTimes(rng)
		f := &chaosFault{desc: fmt.Sprintf("answers to Complete of %s lost ×%d", o.dst, times), target: o, errTypes: []string{"UploadFailed"},
			fault: faultproxy.Fault{Kind: faultproxy.DropResponse, Times: times, Match: isCompleteOf(o.dst)}, lostCompletes: times}
		return f
	},
	func(rng *rand.Rand, o *chaosObject) *chaosFault {
		key := []string{o.dst, o.rej}[rng.IntN(2)]
		times := 1 + rng.IntN(2)
		return &chaosFault{desc: fmt.Sprintf("answers to CreateMultipartUpload of %s lost ×%d", key, times), target: o, errTypes: []string{"UploadFailed"},
			fault: faultproxy.Fault{Kind: faultproxy.DropResponse, Times: times, Match: isCreateOf(key)}, lostCreates: times, createKey: key}
	},
	func(rng *rand.Rand, o *chaosObject) *chaosFault {
		var match func(*http.Request) bool
		var what string
		switch rng.IntN(3) {
		case 0:
			match, what = faultproxy.IsGet(o.src), "GETs of "+o.src
		case 1:
			match, what = isUploadOf(o.dst), "uploads of "+o.dst
		default:
			match, what = faultproxy.IsPutObject(o.rej), "PutObject of "+o.rej
		}
		return &chaosFault{desc: "403 AccessDenied on " + what, target: o, errTypes: []string{"AccessDenied"},
			fault: faultproxy.Fault{Kind: faultproxy.Status, Status: 403, Code: "AccessDenied", Match: match}}
	},
	func(rng *rand.Rand, o *chaosObject) *chaosFault {
		n := 1 + rng.IntN(3)
		return &chaosFault{desc: fmt.Sprintf("%s deleted at its GET %d", o.src, n), target: o, deletes: true, deleteAt: n, errTypes: []string{"SourceChanged"}}
	},
	func(rng *rand.Rand, o *chaosObject) *chaosFault {
		return serverError(rng, fmt.Sprintf("PutObject of %s", o.rej), faultproxy.IsPutObject(o.rej), o, "UploadFailed")
	},
	func(rng *rand.Rand, _ *chaosObject) *chaosFault {
		return serverError(rng, "GETs of the schema", faultproxy.IsGet(chaosSchemaKey), nil, "SourceReadFailed")
	},
}

// chaosOverrun is how long past a deadline under a minute an invocation
// may return: the least time an abort gets, and the least time the looks
// for an object a request cut short may have published get, with some
// slack for a busy machine.
const chaosOverrun = 5 * time.Second

// chaosSchemaKey is where the configured schema is, in each seed's bucket.
const chaosSchemaKey = "schemas/orders.json"

// chaosMessage is one SQS message of a seed's batch, or, for an S3 or
// EventBridge event, the event itself.
type chaosMessage struct {
	id      string
	body    string
	objects []*chaosObject // the objects whose creation it announces
	bad     bool           // a body the function refuses as InvalidEvent
}

// chaosPlan is what one seed does: one invocation, of an SQS batch, an S3
// event of several records or an EventBridge event, under faults and
// perhaps a deadline.
type chaosPlan struct {
	seed        uint64
	shape       string
	messages    []chaosMessage
	event       []byte
	faults      []*chaosFault
	deadline    time.Duration // 0: none
	concurrency int
	readConc    int
}

func newChaosPlan(seed uint64, bucket string, objs []*chaosObject) *chaosPlan {
	rng := rand.New(rand.NewPCG(seed, 0x4a11d))
	p := &chaosPlan{seed: seed, concurrency: 1 + rng.IntN(4), readConc: 1 + rng.IntN(4)}
	bigs := 0
	pick := func() *chaosObject {
		if bigs < 2 && rng.IntN(3) == 0 {
			bigs++
			return objs[0]
		}
		return objs[1+rng.IntN(len(objs)-1)]
	}
	// records draws the records of an S3 event: creations of one to
	// three objects, and now and then a deletion or a folder marker,
	// which are skipped.
	records := func(m *chaosMessage, most int) string {
		var recs []string
		for range 1 + rng.IntN(most) {
			o := pick()
			m.objects = append(m.objects, o)
			recs = append(recs, s3Record(bucket, "ObjectCreated:Put", o.src))
		}
		switch rng.IntN(6) {
		case 0:
			recs = slices.Insert(recs, rng.IntN(len(recs)+1), s3Record(bucket, "ObjectRemoved:Delete", "incoming/old.csv"))
		case 1:
			recs = slices.Insert(recs, rng.IntN(len(recs)+1), s3Record(bucket, "ObjectCreated:Put", "incoming/folder/"))
		}
		return string(s3Records(recs...))
	}
	bridge := func(o *chaosObject) string {
		return fmt.Sprintf(`{"version":"0","source":"aws.s3","detail-type":"Object Created","time":"2026-01-02T03:04:05Z",`+
			`"detail":{"bucket":{"name":%q},"object":{"key":%q}}}`, bucket, o.src)
	}
	bad := []string{
		"not json",
		"",
		fmt.Sprintf(`{"bucket":%q,"key":"incoming/a.csv"}`, bucket), // a direct payload: SQS carries events only
		fmt.Sprintf(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":%q},"object":{"key":"incoming/%%zz.csv"}}}]}`, bucket),
		fmt.Sprintf(`{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":%q}}}`, bucket),
		`{"Records":[{"eventSource":"aws:s3"},{"eventSource":"aws:sqs"}]}`,
	}

	switch n := rng.IntN(8); {
	case n < 5:
		p.shape = "sqs"
		for i := range 2 + rng.IntN(5) {
			m := chaosMessage{id: fmt.Sprintf("%08x-%04d-4000-8000-%012d", seed, i, i)}
			switch k := rng.IntN(10); {
			case k < 5:
				m.body = records(&m, 3)
			case k == 5:
				o := pick()
				m.body, m.objects = bridge(o), []*chaosObject{o}
			case k == 6:
				o := pick()
				sns, _ := json.Marshal(map[string]string{"Type": "Notification", "Message": string(s3Event(bucket, o.src))})
				m.body, m.objects = string(sns), []*chaosObject{o}
			case k < 9:
				m.body, m.bad = bad[rng.IntN(len(bad))], true
			default:
				m.body = `{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"` + bucket + `"}`
			}
			if i > 0 && rng.IntN(4) == 0 {
				// S3 sent the event twice: the batch holds it again.
				prev := p.messages[rng.IntN(len(p.messages))]
				m.body, m.objects, m.bad = prev.body, prev.objects, prev.bad
			}
			p.messages = append(p.messages, m)
		}
		bodies := map[string]string{}
		for _, m := range p.messages {
			bodies[m.id] = m.body
		}
		p.event = sqsEvent(bodies)
	case n < 7:
		p.shape = "s3"
		m := chaosMessage{}
		m.body = records(&m, 4)
		p.messages = []chaosMessage{m}
		p.event = []byte(m.body)
	default:
		p.shape = "eventbridge"
		o := pick()
		p.messages = []chaosMessage{{body: bridge(o), objects: []*chaosObject{o}}}
		p.event = []byte(p.messages[0].body)
	}

	var announced []*chaosObject
	for _, m := range p.messages {
		announced = append(announced, m.objects...)
	}
	for range 1 + rng.IntN(3) {
		if len(announced) == 0 {
			break
		}
		o := announced[rng.IntN(len(announced))]
		p.faults = append(p.faults, chaosFaults[rng.IntN(len(chaosFaults))](rng, o))
	}
	stall := slices.ContainsFunc(p.faults, func(f *chaosFault) bool { return f.stall })
	if stall || rng.IntN(5) == 0 {
		p.deadline = 2*time.Second + time.Duration(rng.IntN(4000))*time.Millisecond
	}
	return p
}

// String names everything needed to tell what happened and to run the
// seed again: go test -run 'TestInvokeChaos/seed=N$' ./handler/.
func (p *chaosPlan) String() string {
	var b strings.Builder
	jobs := 0
	for _, m := range p.messages {
		jobs += len(m.objects)
	}
	fmt.Fprintf(&b, "seed %d: %s event", p.seed, p.shape)
	if p.shape == "sqs" {
		fmt.Fprintf(&b, " of %d messages", len(p.messages))
	}
	fmt.Fprintf(&b, " announcing %d objects (concurrency %d, read concurrency %d", jobs, p.concurrency, p.readConc)
	if p.deadline > 0 {
		fmt.Fprintf(&b, ", deadline %v", p.deadline)
	}
	b.WriteString("; faults:")
	for i, f := range p.faults {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %s, hit %d times", f.desc, f.hits.Load())
	}
	b.WriteString(")")
	return b.String()
}

// arm wraps each fault's Match so that it strikes only while armed is set,
// and counts its hits; a deleting fault deletes its source at its
// deleteAt-th GET, then lets the request through.
func (p *chaosPlan) arm(armed *atomic.Bool, bucket string, direct *s3.Client) []faultproxy.Fault {
	var out []faultproxy.Fault
	for _, f := range p.faults {
		if f.deletes {
			var gets atomic.Int32
			match := faultproxy.IsGet(f.target.src)
			out = append(out, faultproxy.Fault{Kind: faultproxy.Status, Times: 1, Match: func(r *http.Request) bool {
				if armed.Load() && match(r) && int(gets.Add(1)) == f.deleteAt {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if _, err := direct.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(f.target.src)}); err == nil {
						f.hits.Add(1)
					}
				}
				return false
			}})
			continue
		}
		ff := f.fault
		match := ff.Match
		ff.Match = func(r *http.Request) bool {
			if !armed.Load() || match != nil && !match(r) {
				return false
			}
			f.hits.Add(1)
			return true
		}
		out = append(out, ff)
	}
	return out
}

// expect returns whether a job of o must succeed, and the error types it
// may fail with: those of the faults that struck it, and Timeout under a
// deadline. Faults the retries absorb may fail it when together they
// strike more often than the least allowance (the writer's 4 sends of a
// part), or when Complete's answer is lost more than once.
func (p *chaosPlan) expect(o *chaosObject) (mustSucceed bool, allowed []string) {
	mustSucceed = p.deadline == 0
	retries, lost := 0, 0
	for _, f := range p.faults {
		if f.hits.Load() == 0 || f.target != nil && f.target != o {
			continue
		}
		allowed = append(allowed, f.errTypes...)
		retries += f.retries
		lost += f.lostCompletes
		if f.retries == 0 && f.lostCompletes == 0 && f.lostCreates == 0 {
			mustSucceed = false
		}
	}
	if retries > 3 || lost > 1 {
		mustSucceed = false
	}
	if p.deadline > 0 {
		allowed = append(allowed, "Timeout")
	}
	return mustSucceed, allowed
}

// deleted reports whether o's source was deleted.
func (p *chaosPlan) deleted(o *chaosObject) bool {
	return slices.ContainsFunc(p.faults, func(f *chaosFault) bool { return f.deletes && f.target == o && f.hits.Load() > 0 })
}

// lostCreates counts the answers to CreateMultipartUpload of key the
// faults cut off.
func (p *chaosPlan) lostCreates(key string) int {
	n := 0
	for _, f := range p.faults {
		if f.createKey == key {
			n += int(f.hits.Load())
		}
	}
	return n
}

// chaosInvocation is what one invocation returned and logged.
type chaosInvocation struct {
	res  any
	err  error
	took time.Duration
	jobs []jobLog
}

// chaosInvoke invokes h with event and checks what holds for every
// invocation: every line written is JSON, one "invocation" line carries the
// request id, every error type the log or the result names is one the
// README lists, and the result is JSON as the runtime sends it.
func chaosInvoke(t *testing.T, plan *chaosPlan, h *Handler, logs *syncBuffer, event []byte, timeout time.Duration) chaosInvocation {
	t.Helper()
	from := len(logs.String())
	start := time.Now()
	res, id, err := invoke(h, event, timeout)
	inv := chaosInvocation{res: res, err: err, took: time.Since(start)}
	if err != nil && !slices.Contains(tplTypedErrors(), ErrorType(err)) {
		t.Errorf("%v: error type %s (%T) is not in the README's table: %v", plan, ErrorType(err), err, err)
	}
	if err == nil {
		if _, jerr := json.Marshal(res); jerr != nil {
			t.Errorf("%v: the result %#v cannot be sent as JSON: %v", plan, res, jerr)
		}
	}
	summaries := 0
	for _, line := range strings.Split(strings.TrimSpace(logs.String()[from:]), "\n") {
		var m struct {
			Message   string          `json:"message"`
			RequestID string          `json:"requestId"`
			Jobs      json.RawMessage `json:"jobs"`
			Outcome   string          `json:"outcome"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("%v: log line is not JSON: %q: %v", plan, line, err)
			continue
		}
		if m.RequestID != id {
			t.Errorf("%v: log line of request %q, want %q: %s", plan, m.RequestID, id, line)
		}
		if m.Message != "invocation" {
			continue
		}
		summaries++
		if want := cmp.Or(ErrorType(err), "ok"); m.Outcome != want {
			t.Errorf("%v: the invocation's outcome is logged as %q, want %q", plan, m.Outcome, want)
		}
		if err := json.Unmarshal(m.Jobs, &inv.jobs); err != nil {
			t.Errorf("%v: the invocation's jobs: %v", plan, err)
		}
	}
	if summaries != 1 {
		t.Errorf("%v: %d invocation lines logged, want 1", plan, summaries)
	}
	for _, j := range inv.jobs {
		if j.ErrorType != "" && !slices.Contains(tplTypedErrors(), j.ErrorType) {
			t.Errorf("%v: job %+v: error type %s is not in the README's table", plan, j, j.ErrorType)
		}
	}
	return inv
}

// outcomes counts the jobs by outcome: ok, skipped, or the error type.
func (inv chaosInvocation) outcomes() map[string]int {
	n := map[string]int{}
	for _, j := range inv.jobs {
		switch {
		case j.Skipped != "":
			n["skipped"]++
		case j.ErrorType != "":
			n[j.ErrorType]++
		default:
			n["ok"]++
		}
	}
	return n
}

// failedMessages returns the ids of the messages a job of failed, as the
// log tells: a job with an error that is not a skip.
func (inv chaosInvocation) failedMessages() []string {
	var ids []string
	for _, j := range inv.jobs {
		if j.ErrorType != "" && j.Skipped == "" && !slices.Contains(ids, j.Message) {
			ids = append(ids, j.Message)
		}
	}
	slices.Sort(ids)
	return ids
}

// chaosChecks holds the checks of one seed.
type chaosChecks struct {
	t      *testing.T
	plan   *chaosPlan
	srv    *s3test.Server
	direct *s3.Client
	bucket string
	objs   []*chaosObject
}

// object returns the bytes at key, or exists false.
func (c *chaosChecks) object(key string) (body []byte, exists bool) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := c.direct.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(key)})
	var missing *types.NoSuchKey
	if errors.As(err, &missing) {
		return nil, false
	}
	if err != nil {
		c.t.Fatalf("get s3://%s/%s: %v", c.bucket, key, err)
	}
	defer out.Body.Close()
	body, err = io.ReadAll(out.Body)
	if err != nil {
		c.t.Fatalf("read s3://%s/%s: %v", c.bucket, key, err)
	}
	return body, true
}

// result checks what the invocation returned against its log: an SQS
// batch names exactly the messages with a failed job; an S3 or EventBridge
// event fails with its first failed job's error, or gives each job's
// summary or skip.
func (c *chaosChecks) result(inv chaosInvocation, messages []chaosMessage) {
	t, plan := c.t, c.plan
	if plan.shape == "sqs" {
		if inv.err != nil {
			t.Errorf("%v: the SQS invocation failed: %v (%s); failures are reported per message", plan, inv.err, ErrorType(inv.err))
			return
		}
		resp, ok := inv.res.(events.SQSEventResponse)
		if !ok {
			t.Errorf("%v: result %T, want events.SQSEventResponse", plan, inv.res)
			return
		}
		var got []string
		for _, f := range resp.BatchItemFailures {
			got = append(got, f.ItemIdentifier)
		}
		slices.Sort(got)
		if want := inv.failedMessages(); !slices.Equal(got, want) {
			t.Errorf("%v: batchItemFailures %v, want the messages whose jobs failed, %v", plan, got, want)
		}
		for _, m := range messages {
			if m.bad && !slices.Contains(got, m.id) {
				t.Errorf("%v: message %s, whose body is no event, is not in batchItemFailures", plan, m.id)
			}
		}
		return
	}
	var first *jobLog
	ran := 0
	for i, j := range inv.jobs {
		if j.ErrorType != "" && j.Skipped == "" && first == nil {
			first = &inv.jobs[i]
		}
		ran++
	}
	switch {
	case first != nil && inv.err == nil:
		t.Errorf("%v: job %+v failed, but the invocation succeeded with %#v", plan, *first, inv.res)
	case first == nil && inv.err != nil:
		t.Errorf("%v: the invocation failed with %v (%s), but no job failed: %+v", plan, inv.err, ErrorType(inv.err), inv.jobs)
	case first != nil && (ErrorType(inv.err) != first.ErrorType || inv.err.Error() != first.Error):
		t.Errorf("%v: the invocation failed with %s %q, want the first failed job's %s %q", plan, ErrorType(inv.err), inv.err, first.ErrorType, first.Error)
	case first == nil:
		results := []any{inv.res}
		if list, ok := inv.res.([]any); ok {
			results = list
		}
		if len(results) != ran {
			t.Errorf("%v: %d results for %d jobs: %#v", plan, len(results), ran, inv.res)
			return
		}
		for i, r := range results {
			j := inv.jobs[i]
			switch r := r.(type) {
			case csvstream.Summary:
				if j.Skipped != "" || r.Source != j.Source || r.Rows != j.Rows || r.Valid != j.Valid || r.Destination != j.Dest {
					t.Errorf("%v: result %d %+v, but the log says %+v", plan, i, r, j)
				}
			case Skipped:
				if j.Skipped == "" || r.Reason != j.Skipped {
					t.Errorf("%v: result %d %+v, but the log says %+v", plan, i, r, j)
				}
			default:
				t.Errorf("%v: result %d is a %T", plan, i, r)
			}
		}
	}
}

// jobs checks each job the log lists: one that ran and succeeded counted
// what a local run counts; one that failed did so with an error a fault
// that struck it, or the deadline, explains, naming its object; one that
// nothing struck succeeded.
func (c *chaosChecks) jobs(inv chaosInvocation) {
	t, plan := c.t, c.plan
	for _, j := range inv.jobs {
		if j.Source == "" { // a message refused, or not started for want of time
			if j.ErrorType != "InvalidEvent" && !(j.ErrorType == "Timeout" && plan.deadline > 0) {
				t.Errorf("%v: message %s failed without a job: %s %s", plan, j.Message, j.ErrorType, j.Error)
			}
			continue
		}
		o := c.byLocation(j.Source)
		if o == nil {
			if j.Skipped == "" {
				t.Errorf("%v: job of %s ran: it is no creation of an object", plan, j.Source)
			}
			continue
		}
		mustSucceed, allowed := plan.expect(o)
		deleted := plan.deleted(o)
		switch {
		case j.Skipped == skippedGone:
			if !deleted {
				t.Errorf("%v: job of %s skipped as gone, but its source was not deleted", plan, j.Source)
			}
		case j.Skipped != "":
			t.Errorf("%v: job of %s skipped: %s", plan, j.Source, j.Skipped)
		case j.ErrorType == "":
			if j.Rows != o.ref.Rows || j.Valid != o.ref.Valid || j.Rejected != o.ref.Rejected || j.Dest != "s3://"+c.bucket+"/"+o.dst {
				t.Errorf("%v: job %+v, want %d rows = %d valid + %d rejected to s3://%s/%s", plan, j, o.ref.Rows, o.ref.Valid, o.ref.Rejected, c.bucket, o.dst)
			}
		case mustSucceed && !deleted:
			t.Errorf("%v: job of %s failed, but every fault that struck it should have been absorbed: %s %s", plan, j.Source, j.ErrorType, j.Error)
		case !slices.Contains(allowed, j.ErrorType):
			t.Errorf("%v: job of %s failed with %s, want one of %v: %s", plan, j.Source, j.ErrorType, allowed, j.Error)
		case !strings.Contains(j.Error, j.Source) && !strings.Contains(j.Error, "s3://"+c.bucket+"/"+o.dst) && !strings.Contains(j.Error, "s3://"+c.bucket+"/"+o.rej):
			t.Errorf("%v: job of %s failed with an error naming none of its objects: %s", plan, j.Source, j.Error)
		}
	}
}

func (c *chaosChecks) byLocation(loc string) *chaosObject {
	for _, o := range c.objs {
		if loc == "s3://"+c.bucket+"/"+o.src {
			return o
		}
	}
	return nil
}

// outputs checks what each object's jobs published: with one that
// succeeded, exactly the outputs of a local run; with none, no
// destination, and rejects only whole and only when a job failed at the
// destination's completion.
func (c *chaosChecks) outputs(inv chaosInvocation) {
	t, plan := c.t, c.plan
	for _, o := range c.objs {
		ran, ok := false, false
		var failures []string
		for _, j := range inv.jobs {
			if j.Source != "s3://"+c.bucket+"/"+o.src || j.Skipped != "" {
				continue
			}
			ran = true
			if j.ErrorType == "" {
				ok = true
			} else {
				failures = append(failures, j.Error)
			}
		}
		dst, dstExists := c.object(o.dst)
		rej, rejExists := c.object(o.rej)
		switch {
		case ok && (!dstExists || !bytes.Equal(dst, o.wantDst)):
			t.Errorf("%v: a job of %s succeeded, but s3://%s/%s holds %d bytes (exists %v), want the %d of a local run", plan, o.src, c.bucket, o.dst, len(dst), dstExists, len(o.wantDst))
		case ok && (!rejExists || !bytes.Equal(rej, o.wantRej)):
			t.Errorf("%v: a job of %s succeeded, but s3://%s/%s holds %d bytes (exists %v), want the %d of a local run", plan, o.src, c.bucket, o.rej, len(rej), rejExists, len(o.wantRej))
		case !ok && dstExists:
			t.Errorf("%v: no job of %s succeeded (ran %v: %q), but s3://%s/%s exists (%d bytes, equal to a local run's: %v)",
				plan, o.src, ran, failures, c.bucket, o.dst, len(dst), bytes.Equal(dst, o.wantDst))
		case !ok && rejExists:
			named := slices.ContainsFunc(failures, func(e string) bool { return strings.Contains(e, "s3://"+c.bucket+"/"+o.dst) })
			if !named || !bytes.Equal(rej, o.wantRej) {
				t.Errorf("%v: no job of %s succeeded (%q), but s3://%s/%s exists (%d bytes, equal to a local run's: %v)",
					plan, o.src, failures, c.bucket, o.rej, len(rej), bytes.Equal(rej, o.wantRej))
			}
		}
	}
}

// uploads checks that no multipart upload is left, but those S3 made for
// a CreateMultipartUpload whose answer was lost, and aborts them all.
func (c *chaosChecks) uploads() {
	t, plan := c.t, c.plan
	left := map[string]int{}
	for _, u := range c.srv.Uploads(t, c.bucket) {
		key := aws.ToString(u.Key)
		left[key]++
		if left[key] > plan.lostCreates(key) {
			t.Errorf("%v: multipart upload %s of %s left", plan, aws.ToString(u.UploadId), key)
		}
		if _, err := c.direct.AbortMultipartUpload(context.Background(), &s3.AbortMultipartUploadInput{
			Bucket: aws.String(c.bucket), Key: u.Key, UploadId: u.UploadId,
		}); err != nil {
			t.Errorf("abort upload %s of %s: %v", aws.ToString(u.UploadId), key, err)
		}
	}
}

// TestInvokeChaos invokes the handler once per seed with an event of
// several jobs (an SQS batch of several messages, some holding several S3
// records, some the same event twice, some no event at all; an S3 event of
// several records; an EventBridge event), under one to three faults drawn
// from chaosFaults between the client and S3, and sometimes a short
// deadline. Whatever happens: an SQS batch's batchItemFailures names
// exactly the messages with a failed job; an S3 or EventBridge event fails
// with its first failed job's error; every error is one the README's table
// lists, and explained by a fault that struck its job or by the deadline;
// a job nothing struck succeeds; each object has exactly a local run's
// outputs if a job of it succeeded, and no destination if none did; no
// multipart upload is left (but for an answer to Create lost, which the
// README leaves to a sweep); every log line is JSON; and no goroutine
// outlives the invocation. Then, with S3 well again, the same handler
// takes the redelivery (the failed messages, or the failed event again),
// which succeeds, leaving every object's outputs those of a local run.
func TestInvokeChaos(t *testing.T) {
	srv := s3test.Start(t)
	direct := srv.Client()
	objs := chaosObjects(t)
	for _, seed := range faultproxy.Seeds(t, "CSVSTREAM_HANDLER_CHAOS_SEEDS", invokeChaosSeeds) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			bucket := srv.Bucket(t, "chaos")
			srv.Put(t, bucket, chaosSchemaKey, []byte(gen.Schema))
			for _, o := range objs {
				srv.Put(t, bucket, o.src, o.data)
			}
			plan := newChaosPlan(seed, bucket, objs)
			p := faultproxy.New(t, srv.Endpoint)
			var armed atomic.Bool
			armed.Store(true)
			for _, f := range plan.arm(&armed, bucket, direct) {
				p.Inject(f)
			}
			var logs syncBuffer
			h := New(Config{
				Output: Prefix{bucket, "valid/"}, InputPrefix: "incoming/",
				SchemaLocation: csvstream.Location{Bucket: bucket, Key: chaosSchemaKey},
				PartSize:       csvstream.MinPartSize, Concurrency: plan.concurrency, ReadConcurrency: plan.readConc,
				Log: &logs,
			}, s3test.ClientFor(p.URL, csvstream.ClientOptions, func(o *s3.Options) {
				o.Retryer = retry.AddWithMaxBackoffDelay(o.Retryer, 20*time.Millisecond)
			}))
			c := &chaosChecks{t: t, plan: plan, srv: srv, direct: direct, bucket: bucket, objs: objs}

			timeout := cmp.Or(plan.deadline, 2*time.Minute)
			inv := chaosInvoke(t, plan, h, &logs, plan.event, timeout)
			t.Logf("%v: took %v, jobs %v, err %v", plan, inv.took.Round(time.Millisecond), inv.outcomes(), inv.err)
			// Under 60 s (the least Timeout the template takes), the margin
			// left for cleanup is cut short, and the least times cleanup
			// gets (2 s for an abort, 2 s for the looks that follow a
			// request the deadline cut short) may carry the invocation past
			// its deadline; no further.
			if plan.deadline > 0 && inv.took > plan.deadline+chaosOverrun {
				t.Errorf("%v: the invocation returned after %v, more than %v past its %v deadline", plan, inv.took.Round(time.Millisecond), chaosOverrun, plan.deadline)
			}
			defer func() {
				if t.Failed() {
					t.Logf("the invocations' log:\n%s", logs.String())
				}
			}()
			leakcheck.Ended(t, "github.com/csvstream/csvstream/handler", "github.com/csvstream/csvstream/csvstream")
			c.result(inv, plan.messages)
			c.jobs(inv)
			c.outputs(inv)
			c.uploads()

			// The redelivery, with S3 well: the failed messages of a batch,
			// or the whole event when it failed (or, when it succeeded, once
			// more, as S3 may send an event twice).
			armed.Store(false)
			again, messages := plan.event, plan.messages
			if plan.shape == "sqs" {
				failed := inv.failedMessages()
				bodies := map[string]string{}
				messages = nil
				for _, m := range plan.messages {
					if slices.Contains(failed, m.id) {
						bodies[m.id] = m.body
						messages = append(messages, m)
					}
				}
				if len(bodies) == 0 {
					bodies["fresh"] = string(s3Event(bucket, objs[1].src))
					messages = []chaosMessage{{id: "fresh", body: bodies["fresh"], objects: objs[1:2]}}
				}
				again = sqsEvent(bodies)
			}
			redo := chaosInvoke(t, plan, h, &logs, again, 2*time.Minute)
			c.plan = &chaosPlan{seed: plan.seed, shape: plan.shape, faults: plan.faults}
			c.result(redo, messages)
			for _, j := range redo.jobs {
				if j.ErrorType != "" && j.Skipped == "" && j.ErrorType != "InvalidEvent" {
					t.Errorf("%v: the redelivery's job of %s failed with S3 well: %s %s", plan, j.Source, j.ErrorType, j.Error)
				}
			}
			for _, m := range messages {
				for _, o := range m.objects {
					if !plan.deleted(o) && !slices.ContainsFunc(redo.jobs, func(j jobLog) bool {
						return j.Source == "s3://"+bucket+"/"+o.src && j.ErrorType == ""
					}) {
						t.Errorf("%v: the redelivery ran no job of %s", plan, o.src)
					}
				}
			}
			for _, m := range plan.messages {
				for _, o := range m.objects {
					if plan.deleted(o) {
						continue
					}
					if got, _ := c.object(o.dst); !bytes.Equal(got, o.wantDst) {
						t.Errorf("%v: after the redelivery, s3://%s/%s holds %d bytes, want the %d of a local run", plan, bucket, o.dst, len(got), len(o.wantDst))
					}
					if got, _ := c.object(o.rej); !bytes.Equal(got, o.wantRej) {
						t.Errorf("%v: after the redelivery, s3://%s/%s holds %d bytes, want the %d of a local run", plan, bucket, o.rej, len(got), len(o.wantRej))
					}
				}
			}
			checkNoUploads(t, srv, bucket)
			leakcheck.Ended(t, "github.com/csvstream/csvstream/handler", "github.com/csvstream/csvstream/csvstream")
		})
	}
}
