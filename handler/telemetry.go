package handler

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/csvstream/csvstream/csvstream"
)

// MetricsNamespace is the CloudWatch namespace of the handler's metrics.
const MetricsNamespace = "csvstream"

// lockedWriter serialises the log and metric lines of concurrent
// invocations, one Write per line.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// newLogger returns a JSON logger using Lambda's key names (timestamp,
// message) that adds the invocation's request id to every line.
func newLogger(w io.Writer) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: lambdacontext.ReplaceAttr})
	return slog.New(requestIDHandler{h})
}

// requestIDHandler adds requestId from the Lambda context to each record.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// maxJobsPerLine is the most jobs one log line lists. A line of this many
// jobs, each with a long error, stays well under the 256 KB CloudWatch
// Logs keeps of one event, which a large SQS batch's jobs could pass.
const maxJobsPerLine = 50

// maxAbortedPerLine is the most uploads one log line of a sweep lists; a
// sweep of a large backlog may have aborted thousands.
const maxAbortedPerLine = 100

// logAborted writes the uploads a sweep of place aborted, from the from-th
// on, maxAbortedPerLine to a line: those before from are on the sweep's job
// in the summary when it failed, or in its response.
func (inv *invocation) logAborted(level slog.Level, place string, aborted []csvstream.SweptUpload, from int) {
	for i := from; i < len(aborted); i += maxAbortedPerLine {
		inv.h.log.LogAttrs(inv.ctx, level, "sweep aborted",
			slog.String("source", place),
			slog.Int("first_upload", i+1),
			slog.Any("aborted", aborted[i:min(len(aborted), i+maxAbortedPerLine)]))
	}
}

// logSweepError returns what the summary says of the failed sweep of
// place: the first line of err, whose lines may name ten failed aborts,
// and the summary lists up to maxJobsPerLine places. When there is more,
// err goes whole on a "sweep failed" line of its own.
func (inv *invocation) logSweepError(place string, err error) string {
	msg := err.Error()
	first, _, more := strings.Cut(msg, "\n")
	if !more {
		return msg
	}
	inv.h.log.LogAttrs(inv.ctx, slog.LevelError, "sweep failed",
		slog.String("source", place),
		slog.String("error", msg))
	return first + ` (and more: see the "sweep failed" line)`
}

// logSummary writes the invocation's summary: its event shape, its outcome
// and what each job did. The first line lists up to maxJobsPerLine jobs;
// the rest follow, as many to a line, in lines of their own with the same
// outcome. It holds no row contents.
func (inv *invocation) logSummary(err error) {
	level, outcome := slog.LevelInfo, "ok"
	if err != nil {
		level, outcome = slog.LevelError, ErrorType(err)
	}
	jobs := inv.jobs
	first := jobs[:min(len(jobs), maxJobsPerLine)]
	attrs := []slog.Attr{
		slog.String("shape", inv.shape),
		slog.String("outcome", outcome),
		slog.Int64("duration_ms", time.Since(inv.start).Milliseconds()),
		slog.Any("jobs", first),
	}
	if len(jobs) > len(first) {
		attrs = append(attrs, slog.Int("jobs_total", len(jobs)))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	inv.h.log.LogAttrs(inv.ctx, level, "invocation", attrs...)
	for i := len(first); i < len(jobs); i += maxJobsPerLine {
		more := jobs[i:min(len(jobs), i+maxJobsPerLine)]
		inv.h.log.LogAttrs(inv.ctx, level, "invocation jobs",
			slog.String("outcome", outcome),
			slog.Int("first_job", i+1),
			slog.Any("jobs", more))
	}
}

// emfMetric names one metric in an Embedded Metric Format directive.
type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// emfDirective tells CloudWatch which keys of the line are metrics.
type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

// emfLine is one job's metrics as a CloudWatch Embedded Metric Format
// log line.
type emfLine struct {
	AWS struct {
		Timestamp         int64          `json:"Timestamp"`
		CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
	} `json:"_aws"`
	FunctionName string `json:"FunctionName"`
	RequestID    string `json:"requestId,omitempty"`
	Source       string `json:"source"`
	Outcome      string `json:"outcome"`
	Rows         int64  `json:"rows"`
	Valid        int64  `json:"valid"`
	Rejected     int64  `json:"rejected"`
	BytesIn      int64  `json:"bytes_in"`
	BytesOut     int64  `json:"bytes_out"`
	Parts        int    `json:"parts"`
	Retries      int    `json:"retries"`
	DurationMS   int64  `json:"duration_ms"`
}

// emfMetrics lists the metrics of a job's line, by key and unit.
func emfMetrics() []emfMetric {
	return []emfMetric{
		{"rows", "Count"}, {"valid", "Count"}, {"rejected", "Count"},
		{"bytes_in", "Bytes"}, {"bytes_out", "Bytes"}, {"parts", "Count"},
		{"retries", "Count"}, {"duration_ms", "Milliseconds"},
	}
}

// writeMetrics writes one job's metrics line, dimensioned by function name
// and outcome: a failed job's counts are of rows whose output was
// discarded, and must not add up with the published ones.
func (h *Handler) writeMetrics(ctx context.Context, sum csvstream.Summary, err error) {
	var m emfLine
	m.AWS.Timestamp = time.Now().UnixMilli()
	m.AWS.CloudWatchMetrics = []emfDirective{{
		Namespace:  MetricsNamespace,
		Dimensions: [][]string{{"FunctionName", "outcome"}},
		Metrics:    emfMetrics(),
	}}
	m.FunctionName = functionName(ctx)
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		m.RequestID = lc.AwsRequestID
	}
	m.Source, m.Outcome = sum.Source, "ok"
	if err != nil {
		m.Outcome = ErrorType(err)
	}
	m.Rows, m.Valid, m.Rejected = sum.Rows, sum.Valid, sum.Rejected
	m.BytesIn, m.BytesOut, m.Parts = sum.BytesIn, sum.BytesOut, sum.Parts
	m.Retries, m.DurationMS = sum.Retries, sum.DurationMS
	b, jerr := json.Marshal(m)
	if jerr != nil {
		return
	}
	_, _ = h.out.Write(append(b, '\n'))
}

// functionName is the function's name: from the environment Lambda sets,
// or else from the invoked ARN, or "csvstream".
func functionName(ctx context.Context) string {
	if lambdacontext.FunctionName != "" {
		return lambdacontext.FunctionName
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		// arn:aws:lambda:region:account:function:name[:qualifier]
		if parts := strings.Split(lc.InvokedFunctionArn, ":"); len(parts) >= 7 && parts[5] == "function" {
			return parts[6]
		}
	}
	return "csvstream"
}
