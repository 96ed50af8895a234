package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/csvstream/csvstream/csvstream"
	"github.com/csvstream/csvstream/handler"
)

// maxEventSize bounds an event file; Lambda's own payload limit is 6 MB.
const maxEventSize = 6 << 20

// invokeCmd runs the Lambda handler locally on one event, configured from
// the same CSVSTREAM_* variables as the function, against whatever S3
// endpoint the environment names, and prints the result as JSON. The
// handler's log and metric lines go to stderr.
func invokeCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	fs := newCommand("invoke", "csvstream invoke [--timeout 15m] EVENT.json (or - for standard input)")
	defer func() { err = fs.withUsage(err) }()
	timeout := fs.Duration("timeout", 15*time.Minute, "the invocation's time limit, as the function's timeout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("invoke needs one EVENT.json, got %d arguments", fs.NArg())
	}
	if *timeout <= 0 {
		return usagef("--timeout %v: want a positive duration", *timeout)
	}
	name := fs.Arg(0)
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("read event: %w", err)
		}
		defer f.Close()
		r = f
	}
	event, err := io.ReadAll(io.LimitReader(r, maxEventSize+1))
	if err != nil {
		return fmt.Errorf("read event %s: %w", name, err)
	}
	if len(event) > maxEventSize {
		return fmt.Errorf("event %s is larger than Lambda's %d-byte payload limit", name, maxEventSize)
	}

	cfg, err := handler.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	cfg.Log = stderr
	client, err := csvstream.NewS3Client(ctx)
	if err != nil {
		return err
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "local-invoke"})
	res, err := handler.New(cfg, client).Invoke(ctx, json.RawMessage(event))
	// An interrupt that comes after Invoke returned, as while the result
	// is printed, cut nothing short.
	interrupted := context.Cause(parent)
	if err != nil {
		if interrupted != nil {
			// Lambda never cancels an invocation, so the error type the
			// handler chose would blame the job for an interrupt.
			return fmt.Errorf("%w: %w", interrupted, err)
		}
		return fmt.Errorf("%s: %w", handler.ErrorType(err), err)
	}
	if err := writeJSON(stdout, res); err != nil {
		return err
	}
	// The result printed may still be a failure: that of an interrupted
	// invocation, or of an SQS batch that lists failed messages, which is
	// a success for Lambda.
	if interrupted != nil {
		return fmt.Errorf("%w: the invocation was cut short", interrupted)
	}
	if resp, ok := res.(events.SQSEventResponse); ok && len(resp.BatchItemFailures) > 0 {
		return fmt.Errorf("%s failed (the log above says why)", failedMessages(resp.BatchItemFailures))
	}
	return nil
}

// failedMessages names the failed messages of a batch: how many, and the
// first few IDs.
func failedMessages(failures []events.SQSBatchItemFailure) string {
	const shown = 5
	ids := make([]string, 0, shown)
	for _, f := range failures[:min(len(failures), shown)] {
		ids = append(ids, f.ItemIdentifier)
	}
	list := strings.Join(ids, ", ")
	if len(failures) > shown {
		list += ", …"
	}
	if len(failures) == 1 {
		return "SQS message " + list
	}
	return fmt.Sprintf("%d SQS messages (%s)", len(failures), list)
}
