// Package handler is csvstream's AWS Lambda function: it turns an event
// into csvstream jobs, runs them, and reports the result.
//
// A Handler holds only its fixed configuration and the S3 client; every
// invocation builds its own jobs and state, so one function instance can
// serve invocations one after another (warm starts) or several at once
// (AWS_LAMBDA_MAX_CONCURRENCY) without one seeing another's data.
//
// # Events
//
// Invoke accepts:
//   - an S3 event notification: each ObjectCreated record is one job. Other
//     records, keys ending in "/" (folder markers), and objects deleted
//     before their job reads them are skipped. The result is the job's
//     summary, or a list of them for several records.
//   - the s3:TestEvent S3 sends when a notification is set up: acknowledged.
//   - an EventBridge "Object Created" event from aws.s3: one job.
//   - an SQS event whose message bodies are any of the above (directly or
//     inside an SNS notification): the result is an SQSEventResponse
//     listing the messages that failed, so that only they are redelivered
//     (the event source mapping must turn on ReportBatchItemFailures, or
//     Lambda deletes the whole batch); the invocation itself succeeds.
//   - a direct payload, as the AWS CLI or Step Functions send it:
//     {"bucket", "key", "destination", "rejects", "schema", "format",
//     "delimiter", "version_id"}. An event's job reads the object's latest
//     version, so that the output, named after the key, ends up matching
//     the object as it is even when events arrive out of order; a payload
//     may name a version_id to read that one.
//   - an EventBridge "Scheduled Event" from aws.events, or a direct
//     {"sweep": {"prefixes", "older_than", "dry_run"}}: aborts the
//     abandoned multipart uploads under the output and rejects prefixes
//     (see csvstream.Sweep), and returns a SweepSummary for each.
//   - the record Lambda sends to an on-failure destination for a failed
//     asynchronous invocation: its requestPayload is handled as above, so
//     that a record taken from the failure queue can be sent back as it is.
//
// # Output names
//
// The outputs of a source object s3://B/K are named by a fixed rule, so a
// redelivered event rewrites the same objects:
//
//	rel         = K without Config.InputPrefix's folder, if K starts with the prefix
//	destination = s3://<output bucket>/<output prefix><rel>
//	rejects     = s3://<rejects bucket>/<rejects prefix><rel>.rejects.csv
//
// With the jsonl format, ".jsonl" is appended to a derived destination.
// A direct payload may name the destination or rejects object, or a prefix
// (ending in "/") to apply the rule under.
//
// # Recursion guard
//
// A job is refused with RecursionRisk when its destination or rejects is
// the source itself, lies under Config.InputPrefix (in any bucket), or
// when the source lies under the output or rejects prefix (when that prefix
// is a whole bucket: when the source's key also ends with the ".jsonl" or
// ".rejects.csv" the function appends there): an output written where the
// trigger watches would invoke the function again, without end.
//
// # Errors, logs and metrics
//
// Failures are returned as one of this package's error types
// (SourceNotFound, SchemaError, HeaderMismatch, TooManyRejects, UploadFailed,
// AccessDenied, InvalidEvent, RecursionRisk, Timeout, SourceChanged,
// SourceReadFailed, InternalError), whose names Lambda reports as
// errorType. Each invocation writes one JSON log line with its request id
// (and one more per 50 jobs past the first 50), and each job one
// CloudWatch Embedded Metric Format line (namespace "csvstream"); neither
// holds row contents, except that a HeaderMismatch's error quotes the
// first record's labels, which are the first row of a file without a
// header.
package handler

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/csvstream/csvstream/csvstream"
)

// Handler is the Lambda function. It is safe for concurrent use.
type Handler struct {
	cfg Config
	api csvstream.S3API
	log *slog.Logger
	out *lockedWriter
}

// New returns a Handler for cfg that reaches S3 through api.
func New(cfg Config, api csvstream.S3API) *Handler {
	cfg = cfg.withDefaults()
	out := &lockedWriter{w: cfg.Log}
	if out.w == nil {
		out.w = os.Stdout
	}
	return &Handler{cfg: cfg, api: api, out: out, log: newLogger(out)}
}

// Skipped is the result for an event, or a record of one, that needs no
// work: an S3 test event, a deletion, a folder marker, an object deleted
// before its job read it.
type Skipped struct {
	Event  string `json:"event"`            // the event's name or type, such as ObjectRemoved:Delete
	Source string `json:"source,omitempty"` // the object it names, when it names one
	Reason string `json:"skipped"`          // why nothing was done
}

// Invoke handles one event; see the package documentation for the shapes
// it accepts and what it returns. The context carries the invocation's
// deadline: jobs and their uploads stop DeadlineMargin before it, are given
// the first half of the margin to abort the uploads, and report Timeout.
func (h *Handler) Invoke(ctx context.Context, event json.RawMessage) (any, error) {
	inv := h.newInvocation(ctx)
	defer inv.cancel()
	res, err := inv.dispatch(event)
	inv.logSummary(err)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// invocation is the state of one Invoke call.
type invocation struct {
	h      *Handler
	ctx    context.Context // the invocation's
	jobCtx context.Context // see newInvocation
	cancel context.CancelFunc
	// writerMargin is how long before jobCtx's deadline the job's uploads
	// stop on their own: after the job is cancelled, so that it is the
	// job's cancellation that stops them and names the invocation's
	// deadline. It is only a safety net.
	writerMargin time.Duration
	start        time.Time
	shape        string

	// The configured S3 schema, once loaded, or the error loading it met
	// when that error is not a passing one.
	schema    *csvstream.Schema
	schemaErr error

	jobs []jobLog
}

// jobLog is what the invocation's log line says of one job.
type jobLog struct {
	Message    string `json:"message_id,omitempty"`
	Source     string `json:"source,omitempty"`
	Dest       string `json:"destination,omitempty"`
	Rows       int64  `json:"rows"`
	Valid      int64  `json:"valid"`
	Rejected   int64  `json:"rejected"`
	Parts      int    `json:"parts"`
	DurationMS int64  `json:"duration_ms"`
	Skipped    string `json:"skipped,omitempty"`
	ErrorType  string `json:"error_type,omitempty"`
	Error      string `json:"error,omitempty"`
	// Aborted lists the uploads a sweep that failed part way did abort.
	Aborted []csvstream.SweptUpload `json:"aborted,omitempty"`
}

func (h *Handler) newInvocation(ctx context.Context) *invocation {
	inv := &invocation{h: h, ctx: ctx, start: time.Now()}
	inv.jobCtx, inv.cancel = ctx, func() {}
	if d, ok := ctx.Deadline(); ok {
		margin := max(min(h.cfg.DeadlineMargin, time.Until(d)/4), 0)
		cause := fmt.Errorf("%w: stopped %v before the invocation's deadline to leave time for cleanup",
			context.DeadlineExceeded, margin.Round(time.Millisecond))
		// Jobs are cancelled margin before the deadline. The deadline
		// they see, which bounds their cleanup, such as aborting an
		// upload, is half the margin before it; the other half is left
		// for the result.
		cleanup, stopCleanup := context.WithDeadlineCause(ctx, d.Add(-margin/2), cause)
		jobCtx, cancel := context.WithCancelCause(cleanup)
		timer := time.AfterFunc(time.Until(d.Add(-margin)), func() { cancel(cause) })
		inv.jobCtx, inv.writerMargin = jobCtx, max(margin/4, time.Nanosecond)
		inv.cancel = func() {
			timer.Stop()
			cancel(context.Canceled)
			stopCleanup()
		}
	}
	return inv
}

// stopped reports whether the invocation has run out of time for jobs.
func (inv *invocation) stopped() bool {
	return errors.Is(context.Cause(inv.jobCtx), context.DeadlineExceeded)
}

func (inv *invocation) dispatch(event []byte) (any, error) {
	shape, event, err := shapeOf(event)
	if err != nil {
		return nil, invalidEvent(err)
	}
	inv.shape = shape
	switch shape {
	case shapeS3Test:
		return inv.testEvent(event, ""), nil
	case shapeS3:
		objs, err := parseS3Event(event)
		if err != nil {
			return nil, invalidEvent(err)
		}
		return inv.objects(objs, "")
	case shapeEventBridge:
		o, err := parseEventBridge(event)
		if err != nil {
			return nil, invalidEvent(err)
		}
		return inv.objects([]objectEvent{o}, "")
	case shapeSQS:
		return inv.sqs(event)
	case shapeDirect:
		req, err := parseDirect(event)
		if err != nil {
			return nil, invalidEvent(err)
		}
		return inv.direct(req)
	case shapeSchedule:
		return inv.sweep(sweepRequest{})
	case shapeSweep:
		req, err := parseSweep(event)
		if err != nil {
			return nil, invalidEvent(err)
		}
		return inv.sweep(req)
	}
	return nil, &InternalError{failure{Err: fmt.Errorf("event shape %q has no handler", shape)}}
}

func (inv *invocation) testEvent(event []byte, messageID string) Skipped {
	var e events.S3TestEvent
	_ = json.Unmarshal(event, &e)
	s := Skipped{Event: "s3:TestEvent", Reason: "test event acknowledged"}
	if e.Bucket != "" {
		s.Source = "s3://" + e.Bucket
	}
	inv.jobs = append(inv.jobs, jobLog{Message: messageID, Source: s.Source, Skipped: s.Reason})
	return s
}

// skippedGone is the reason given for an announced object that no longer
// exists when its job reads it.
const skippedGone = "the object no longer exists"

// objects runs one job per announced object, every one even when an
// earlier one fails, and returns the first failure. An object that no
// longer exists is skipped, as a deletion is. One object gives one result;
// several give a list.
func (inv *invocation) objects(objs []objectEvent, messageID string) (any, error) {
	var results []any
	var first error
	for _, o := range objs {
		src := csvstream.Location{Bucket: o.Bucket, Key: o.Key}
		if o.Skip == "" && strings.HasSuffix(o.Key, "/") {
			o.Skip = "folder marker"
		}
		if o.Skip != "" {
			inv.jobs = append(inv.jobs, jobLog{Message: messageID, Source: src.String(), Skipped: o.Skip})
			results = append(results, Skipped{Event: o.Event, Source: src.String(), Reason: o.Skip})
			continue
		}
		sum, err := inv.run(src, directRequest{}, messageID)
		var gone *SourceNotFound
		if errors.As(err, &gone) {
			// Deleted after the event was sent: there is nothing left to
			// validate, and another try would only fail the same way. The
			// job's log entry, which run added last, says so too.
			inv.jobs[len(inv.jobs)-1].Skipped = skippedGone
			results = append(results, Skipped{Event: o.Event, Source: src.String(), Reason: skippedGone})
			continue
		}
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		results = append(results, sum)
	}
	if first != nil {
		return nil, first
	}
	if len(results) == 1 {
		return results[0], nil
	}
	return results, nil
}

// sqs handles each message on its own and reports the ones that failed.
// Once the invocation runs out of time, the messages left are reported as
// failed without being started.
func (inv *invocation) sqs(event []byte) (any, error) {
	var e events.SQSEvent
	if err := json.Unmarshal(event, &e); err != nil {
		return nil, invalidEvent(fmt.Errorf("SQS event: %w", jsonProblem(err)))
	}
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for _, m := range e.Records {
		if err := inv.message(m); err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

// message handles one SQS message. Its id is named in errors and log
// lines cut short (see shownID); only the batch's failures echo it whole.
func (inv *invocation) message(m events.SQSMessage) error {
	id := shownID(m.MessageId)
	fail := func(err error) error {
		inv.jobs = append(inv.jobs, jobLog{Message: id, ErrorType: ErrorType(err), Error: err.Error()})
		return err
	}
	if inv.stopped() {
		return fail(&Timeout{failure{Object: "SQS message " + id, Err: context.Cause(inv.jobCtx)}})
	}
	shape, body, err := shapeOf([]byte(m.Body))
	if err != nil {
		return fail(invalidEvent(fmt.Errorf("SQS message %s: %w", id, err)))
	}
	var objs []objectEvent
	switch shape {
	case shapeS3Test:
		inv.testEvent(body, id)
		return nil
	case shapeS3:
		objs, err = parseS3Event(body)
	case shapeEventBridge:
		var o objectEvent
		o, err = parseEventBridge(body)
		objs = []objectEvent{o}
	default:
		err = fmt.Errorf("a %s event: want an S3 event notification or an EventBridge S3 event", shape)
	}
	if err != nil {
		return fail(invalidEvent(fmt.Errorf("SQS message %s: %w", id, err)))
	}
	_, err = inv.objects(objs, id)
	return err
}

func (inv *invocation) direct(req directRequest) (any, error) {
	return inv.run(csvstream.Location{Bucket: req.Bucket, Key: req.Key}, req, "")
}

// run runs the job for one source object and records it in the log and
// the metrics. Its error is one of the handler's types.
func (inv *invocation) run(src csvstream.Location, req directRequest, messageID string) (csvstream.Summary, error) {
	start := time.Now()
	sum, err := inv.runJob(src, req)
	if err != nil {
		err = classify(err, src.String(), inv.stopped())
	}
	if sum.Source == "" {
		sum.Source = src.String()
	}
	if sum.DurationMS == 0 {
		sum.DurationMS = time.Since(start).Milliseconds()
	}
	jl := jobLog{
		Message: messageID, Source: sum.Source, Dest: sum.Destination,
		Rows: sum.Rows, Valid: sum.Valid, Rejected: sum.Rejected, Parts: sum.Parts, DurationMS: sum.DurationMS,
	}
	if err != nil {
		jl.ErrorType, jl.Error = ErrorType(err), err.Error()
	}
	inv.jobs = append(inv.jobs, jl)
	inv.h.writeMetrics(inv.ctx, sum, err)
	return sum, err
}

func (inv *invocation) runJob(src csvstream.Location, req directRequest) (csvstream.Summary, error) {
	cfg := inv.h.cfg
	if err := cfg.checkOptions(); err != nil {
		// Only a Config built in Go gets here: ConfigFromEnv checks the
		// same. The event is not to blame.
		return csvstream.Summary{}, &InternalError{failure{Object: src.String(), Err: err}}
	}
	if inv.h.api == nil {
		return csvstream.Summary{}, &InternalError{failure{Object: src.String(), Err: errors.New("the handler has no S3 client")}}
	}
	job := csvstream.Job{
		Source:         src,
		Format:         req.Format,
		MaxRejectRatio: cfg.MaxRejectRatio,
		Scan:           cfg.Scan,
		Reader:         csvstream.ReaderOptions{VersionID: req.VersionID, Concurrency: cfg.ReadConcurrency},
		Writer:         csvstream.WriterOptions{PartSize: cfg.PartSize, Concurrency: cfg.Concurrency, DeadlineMargin: inv.writerMargin},
	}
	var err error
	if req.Delimiter != "" {
		if job.Scan.Comma, err = csvstream.ParseDelimiter(req.Delimiter); err != nil {
			return csvstream.Summary{}, invalidEvent(fmt.Errorf("direct payload: %w", err))
		}
	}
	if err := csvstream.CheckFormat(req.Format); err != nil {
		// Refused before the schema is read, as the delimiter is: a
		// schema that cannot be read must not make a retryable error of
		// an event that can never succeed.
		return csvstream.Summary{}, &InvalidEvent{failure{Object: src.String(), Err: fmt.Errorf("direct payload: %w", err)}}
	}
	if job.Destination, job.Rejects, err = cfg.outputs(src, req); err != nil {
		return csvstream.Summary{}, err
	}
	if err := cfg.guard(src, job.Destination, job.Rejects); err != nil {
		return csvstream.Summary{Destination: job.Destination.String(), Rejects: job.Rejects.String()}, err
	}
	if job.Schema, job.SchemaLocation, err = inv.loadSchema(req.Schema); err != nil {
		return csvstream.Summary{Destination: job.Destination.String(), Rejects: job.Rejects.String()}, err
	}
	return csvstream.Run(inv.jobCtx, inv.h.api, job)
}

// loadSchema returns the schema a job uses, and where it comes from: the
// payload's, the one loaded at start-up, or the configured S3 schema read
// once per invocation (again for the next job when reading it failed for
// a passing reason).
func (inv *invocation) loadSchema(payload string) (*csvstream.Schema, csvstream.Location, error) {
	if payload != "" {
		loc, err := csvstream.ParseLocation(payload)
		if err != nil || !loc.IsS3() {
			return nil, loc, invalidEvent(fmt.Errorf(`direct payload: "schema" %q: want s3://bucket/key`, payload))
		}
		if strings.HasSuffix(loc.Key, "/") {
			return nil, loc, invalidEvent(fmt.Errorf(`direct payload: "schema" %q ends with /: it names a folder, not a schema object`, payload))
		}
		s, err := csvstream.LoadSchema(inv.jobCtx, inv.h.api, loc)
		return s, loc, err
	}
	cfg := inv.h.cfg
	if cfg.Schema != nil || cfg.SchemaLocation.IsZero() {
		return cfg.Schema, cfg.SchemaLocation, nil
	}
	if inv.schema != nil || inv.schemaErr != nil {
		return inv.schema, cfg.SchemaLocation, inv.schemaErr
	}
	s, err := csvstream.LoadSchema(inv.jobCtx, inv.h.api, cfg.SchemaLocation)
	switch classify(err, "", false).(type) {
	case *SourceReadFailed, *SourceChanged: // the next job tries again
	default:
		inv.schema, inv.schemaErr = s, err
	}
	return s, cfg.SchemaLocation, err
}

// jsonlExt is appended to the destination key of a JSON Lines job.
const jsonlExt = ".jsonl"

// outputs names a job's destination and rejects; see the package
// documentation for the rule.
func (cfg Config) outputs(src csvstream.Location, req directRequest) (dst, rej csvstream.Location, err error) {
	rel := src.Key
	if p := cfg.InputPrefix; p != "" && strings.HasPrefix(rel, p) {
		// Only the prefix's folder goes: with "incoming/2026-",
		// incoming/2026-01.csv is 2026-01.csv. Taking more could give two
		// keys one name: with "incoming", both incoming/x.csv and
		// incomingx.csv would be x.csv.
		rel = rel[strings.LastIndex(p, "/")+1:]
	}
	if rel == "" {
		return dst, rej, invalidEvent(fmt.Errorf("%s: the key is the input prefix itself; it names no file", src))
	}
	ext := ""
	if req.Format == csvstream.FormatJSONL {
		ext = jsonlExt
	}
	derive := func(p Prefix, suffix string) csvstream.Location {
		return csvstream.Location{Bucket: p.Bucket, Key: p.Prefix + rel + suffix}
	}
	// unset reports a configured prefix with no bucket, which only a
	// Config built in Go, not read by ConfigFromEnv, can have.
	unset := func(name string, p Prefix) error {
		if p.Bucket != "" {
			return nil
		}
		return &InternalError{failure{Object: src.String(), Err: fmt.Errorf("the handler's Config has no %s bucket", name)}}
	}
	// named parses a payload location: an object, or a prefix to derive under.
	named := func(field, s, suffix string) (csvstream.Location, error) {
		// Only an s3:// value can be a prefix; any other is refused
		// below, with the message that says what the field takes.
		if strings.HasPrefix(s, "s3://") && (strings.HasSuffix(s, "/") || strings.Count(s, "/") == 2) {
			p, err := ParsePrefix(s)
			if err != nil {
				return csvstream.Location{}, invalidEvent(fmt.Errorf("direct payload: %q: %w", field, err))
			}
			return derive(p, suffix), nil
		}
		loc, err := csvstream.ParseLocation(s)
		if err != nil || !loc.IsS3() {
			return csvstream.Location{}, invalidEvent(fmt.Errorf("direct payload: %q %q: want s3://bucket/key or s3://bucket/prefix/", field, s))
		}
		return loc, nil
	}

	switch {
	case req.Destination != "":
		if dst, err = named("destination", req.Destination, ext); err != nil {
			return dst, rej, err
		}
	default:
		if err := unset("output", cfg.Output); err != nil {
			return dst, rej, err
		}
		dst = derive(cfg.Output, ext)
		if cfg.Rejects.contains(dst) && strings.HasSuffix(dst.Key, csvstream.RejectsSuffix) {
			// With the rejects among the valid rows, a source named like
			// a rejects object would write its rows over another
			// source's rejects, both jobs succeeding.
			return dst, rej, invalidEvent(fmt.Errorf("%s: its valid rows would go to %s, where another source's rejects go (the rejects prefix %s holds the output's names); give the job a destination", src, dst, cfg.Rejects))
		}
	}
	switch {
	case req.Rejects != "":
		rej, err = named("rejects", req.Rejects, csvstream.RejectsSuffix)
	case req.Destination != "":
		rej, err = dst.WithSuffix(csvstream.RejectsSuffix)
	default:
		if err := unset("rejects", cfg.Rejects); err != nil {
			return dst, rej, err
		}
		rej = derive(cfg.Rejects, csvstream.RejectsSuffix)
	}
	return dst, rej, err
}

// guard refuses a job whose outputs could trigger the function again.
func (cfg Config) guard(src, dst, rej csvstream.Location) error {
	risk := func(format string, args ...any) error {
		return &RecursionRisk{failure{Object: src.String(), Err: fmt.Errorf(format, args...)}}
	}
	for _, out := range []struct {
		name string
		loc  csvstream.Location
	}{{"destination", dst}, {"rejects", rej}} {
		if out.loc == src {
			return risk("the %s is the source itself", out.name)
		}
		// Any bucket: the configuration names the watched prefix but not the
		// bucket, and a direct payload may read from another bucket than the
		// one the trigger watches.
		if cfg.InputPrefix != "" && strings.HasPrefix(out.loc.Key, cfg.InputPrefix) {
			return risk("the %s %s lies under the input prefix %q the trigger watches", out.name, out.loc, cfg.InputPrefix)
		}
	}
	for _, p := range []struct {
		name   string
		p      Prefix
		suffix string // what the function appends to the keys it writes there
	}{{"output", cfg.Output, jsonlExt}, {"rejects", cfg.Rejects, csvstream.RejectsSuffix}} {
		switch {
		case p.p.Prefix != "" && p.p.contains(src):
			return risk("the source lies under the %s prefix %s: it is an output of this function", p.name, p.p)
		case p.p.Prefix == "" && p.p.contains(src) && strings.HasSuffix(src.Key, p.suffix):
			// A whole bucket may hold sources too, but not ones named as
			// the function's outputs there are: each would beget another.
			return risk("the source lies in the bucket %s, where the %s go, and its key ends with %q as theirs do: it is an output of this function", p.p.Bucket, p.name, p.suffix)
		}
	}
	return nil
}

// sweep aborts abandoned multipart uploads under the requested prefixes,
// or the output and rejects prefixes.
func (inv *invocation) sweep(req sweepRequest) (any, error) {
	cfg := inv.h.cfg
	api, ok := inv.h.api.(csvstream.SweepAPI)
	if !ok {
		return nil, &InternalError{failure{Err: errors.New("sweep: the S3 client cannot list multipart uploads")}}
	}
	minAge := cmp.Or(cfg.minSweepAge, MinSweepAge)
	opt := csvstream.SweepOptions{OlderThan: cfg.SweepOlderThan, DryRun: req.DryRun}
	switch {
	case req.OlderThan != "":
		d, err := parseSweepAge(req.OlderThan, minAge)
		if err != nil {
			return nil, invalidEvent(fmt.Errorf("sweep payload: %w", err))
		}
		opt.OlderThan = d
	case cfg.SweepOlderThan < minAge:
		// ConfigFromEnv refuses such an age; a Config built in Go may not.
		return nil, &InternalError{failure{Err: fmt.Errorf("sweep: Config.SweepOlderThan %v is under %v, and would abort the uploads of running jobs", cfg.SweepOlderThan, minAge)}}
	}
	var places []Prefix
	for _, s := range req.Prefixes {
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, invalidEvent(fmt.Errorf("sweep payload: prefixes: %w", err))
		}
		places = append(places, p)
	}
	if len(places) == 0 {
		// One prefix under the other is swept as part of it: sweeping it
		// again would list, count and abort its uploads twice.
		o, r := cfg.Output, cfg.Rejects
		switch {
		case o.contains(csvstream.Location{Bucket: r.Bucket, Key: r.Prefix}):
			places = []Prefix{o}
		case r.contains(csvstream.Location{Bucket: o.Bucket, Key: o.Prefix}):
			places = []Prefix{r}
		default:
			places = []Prefix{o, r}
		}
	}
	var swept []csvstream.SweepResult
	var errs []error
	first := len(inv.jobs)
	for _, p := range places {
		res, err := csvstream.Sweep(inv.jobCtx, api, p.Bucket, p.Prefix, opt)
		swept = append(swept, res)
		what, done := "sweep", "aborted"
		if opt.DryRun {
			what, done = "sweep (dry run)", "would be aborted"
		}
		if err != nil {
			what += " failed"
		}
		jl := jobLog{Source: p.String(), Skipped: fmt.Sprintf("%s: %d of %d uploads seen %s", what, len(res.Aborted), res.Seen, done)}
		if err != nil {
			errs = append(errs, err)
			jl.ErrorType, jl.Error = ErrorType(classify(err, p.String(), inv.stopped())), inv.logSweepError(p.String(), err)
		}
		inv.jobs = append(inv.jobs, jl)
	}
	if len(errs) > 0 {
		// The error returned loses the results, so the log keeps the
		// uploads aborted under every place, the failed ones' and the
		// others', on as many lines as they take: the invocation's line
		// lists at most maxAbortedPerLine of them.
		listed := 0
		for i, res := range swept {
			jl := &inv.jobs[first+i]
			jl.Aborted = res.Aborted[:min(len(res.Aborted), maxAbortedPerLine-listed)]
			listed += len(jl.Aborted)
			inv.logAborted(slog.LevelError, places[i].String(), res.Aborted, len(jl.Aborted))
		}
		return nil, classify(sweepErrors(errs), "", inv.stopped())
	}
	// The response lists at most maxAbortedListed uploads of all its
	// places; the rest go to the log, which has no such limit.
	results := []SweepSummary{}
	answered := 0
	for i, res := range swept {
		sum := SweepSummary{SweepResult: res, AbortedCount: len(res.Aborted)}
		if n := min(len(res.Aborted), maxAbortedListed-answered); n < len(res.Aborted) {
			sum.Aborted = res.Aborted[:n:n]
			inv.logAborted(slog.LevelInfo, places[i].String(), res.Aborted, n)
		}
		answered += len(sum.Aborted)
		results = append(results, sum)
	}
	return results, nil
}

// SweepSummary is what a sweep returns for one place: the library's
// result, whose list of aborted uploads may be cut short to keep the
// response within Lambda's limit.
type SweepSummary struct {
	csvstream.SweepResult
	// AbortedCount counts the uploads aborted (with DryRun, those that
	// would be). Seen is the sum of AbortedCount, Kept and Failed.
	AbortedCount int `json:"aborted_count"`
}

// maxAbortedListed is the most aborted uploads a sweep's response lists,
// over all its places; the invocation's log lists the rest. Lambda refuses
// a response over 6 MB, and one upload can take about 6 KB of JSON (a key
// of 1,024 bytes, each escaped), so a sweep of a large backlog would
// otherwise fail after doing its work.
const maxAbortedListed = 500

// maxSweepPlaceErrors is the most failed places a sweep's error spells out.
const maxSweepPlaceErrors = 3

// sweepErrors is the failures of a sweep's places. Its message spells
// out the first maxSweepPlaceErrors of them and counts the rest, whose
// messages the invocation's log holds: a sweep of many places, each
// failing many aborts, would otherwise make an error, and a log line, past
// the sizes Lambda and CloudWatch keep.
type sweepErrors []error

func (e sweepErrors) Error() string {
	msg := errors.Join(e[:min(len(e), maxSweepPlaceErrors)]...).Error()
	if n := len(e) - maxSweepPlaceErrors; n > 0 {
		msg += fmt.Sprintf("\n(and %d more places failed: see the log)", n)
	}
	return msg
}

func (e sweepErrors) Unwrap() []error { return e }
