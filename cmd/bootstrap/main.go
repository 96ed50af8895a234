// Command bootstrap is csvstream's AWS Lambda function, for the provided.al2023
// runtime. It reads its configuration from the CSVSTREAM_* environment
// variables (see package handler), builds the S3 client, and serves
// invocations through the Lambda Runtime API until the process is stopped.
//
// Build it as:
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -ldflags '-s -w' -o bootstrap ./cmd/bootstrap
//
// A configuration error is reported to the Runtime API's init/error
// endpoint with its variable's name, and the process exits, so the
// function fails at start-up rather than on every invocation.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/csvstream/csvstream/csvstream"
	"github.com/csvstream/csvstream/handler"
)

func main() {
	if limit, ok := memoryLimit(os.Getenv); ok {
		debug.SetMemoryLimit(limit)
	}
	ctx := context.Background()
	cfg, err := handler.ConfigFromEnv(os.Getenv)
	if err != nil {
		initFailed("Runtime.ConfigError", err)
	}
	client, err := csvstream.NewS3Client(ctx)
	if err != nil {
		initFailed("Runtime.ConfigError", err)
	}
	h := handler.New(cfg, client)
	lambda.Start(h.Invoke)
}

// memoryLimit returns a soft memory limit for the Go runtime of 90% of the
// function's memory, unless GOMEMLIMIT sets one. Near the limit the garbage
// collector runs more often, rather than letting the heap grow to twice
// what is live (as it does by default) and the function run out of memory
// while large tables of unique keys are still growing.
func memoryLimit(getenv func(string) string) (int64, bool) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, false
	}
	mb, err := strconv.ParseInt(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), 10, 64)
	if err != nil || mb <= 0 || mb > 1<<20 {
		return 0, false
	}
	return mb << 20 / 10 * 9, true
}

// initFailed reports an initialization error to the Runtime API, when
// there is one, and on standard error, then exits.
func initFailed(errorType string, err error) {
	fmt.Fprintf(os.Stderr, "csvstream: init failed: %v\n", err)
	if api := os.Getenv("AWS_LAMBDA_RUNTIME_API"); api != "" {
		if perr := postInitError(api, errorType, err); perr != nil {
			fmt.Fprintf(os.Stderr, "csvstream: report init error: %v\n", perr)
		}
	}
	os.Exit(1)
}

// postInitError sends err to the Runtime API's init/error endpoint.
func postInitError(api, errorType string, err error) error {
	body, _ := json.Marshal(map[string]string{"errorType": errorType, "errorMessage": err.Error()})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, rerr := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+api+"/2018-06-01/runtime/init/error", bytes.NewReader(body))
	if rerr != nil {
		return rerr
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Lambda-Runtime-Function-Error-Type", errorType)
	resp, rerr := http.DefaultClient.Do(req)
	if rerr != nil {
		return rerr
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("init/error answered %s", resp.Status)
	}
	return nil
}
