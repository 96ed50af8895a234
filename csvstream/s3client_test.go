package csvstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// TestClientNoRetryQuota takes many more retry tokens from the retryer
// ClientOptions sets than the SDK's default quota (500 tokens, 5 a retry)
// allows: one client serves every job of a warm container, so a quota one
// job empties must not leave the next without retries.
func TestClientNoRetryQuota(t *testing.T) {
	var o s3.Options
	ClientOptions(&o)
	if o.Retryer == nil {
		t.Fatal("ClientOptions sets no retryer")
	}
	if got := o.Retryer.MaxAttempts(); got != MaxAttempts {
		t.Errorf("MaxAttempts = %d, want %d", got, MaxAttempts)
	}
	cause := errors.New("connection reset by peer")
	for i := range 1000 {
		if _, err := o.Retryer.GetRetryToken(context.Background(), cause); err != nil {
			t.Fatalf("retry %d refused: %v", i+1, err)
		}
	}
}

// TestClientOptionsLogsAndPathStyle pins the rest of what ClientOptions
// promises: the SDK's plain-text checksum-skip notes are off (they would
// break JSON logs), and path-style addressing follows
// AWS_S3_FORCE_PATH_STYLE, on only when it is true.
func TestClientOptionsLogsAndPathStyle(t *testing.T) {
	for _, tc := range []struct {
		env  string
		path bool
	}{{"", false}, {"true", true}, {"1", true}, {"false", false}, {"0", false}} {
		t.Setenv("AWS_S3_FORCE_PATH_STYLE", tc.env)
		var o s3.Options
		ClientOptions(&o)
		if !o.DisableLogOutputChecksumValidationSkipped {
			t.Errorf("AWS_S3_FORCE_PATH_STYLE=%q: checksum-skip notes are still logged", tc.env)
		}
		if o.UsePathStyle != tc.path {
			t.Errorf("AWS_S3_FORCE_PATH_STYLE=%q: UsePathStyle = %v, want %v", tc.env, o.UsePathStyle, tc.path)
		}
	}
}

// TestNewS3ClientRefusesBadPathStyle: a value of AWS_S3_FORCE_PATH_STYLE
// that is not a boolean is named, not taken as false.
func TestNewS3ClientRefusesBadPathStyle(t *testing.T) {
	t.Setenv("AWS_S3_FORCE_PATH_STYLE", "yes")
	_, err := NewS3Client(context.Background())
	if err == nil || !strings.Contains(err.Error(), `AWS_S3_FORCE_PATH_STYLE="yes"`) {
		t.Errorf("NewS3Client error = %v, want the bad AWS_S3_FORCE_PATH_STYLE named", err)
	}
}

// TestRetryCutAnswer: with retryCutAnswer, the S3 client's retryer also
// sends again a request whose answer was cut off after its headers, which
// it alone does not; it keeps its own decision for every other error, and
// an error that says it must not be retried is not.
func TestRetryCutAnswer(t *testing.T) {
	cut := fmt.Errorf("https response error StatusCode: 200: %w", io.ErrUnexpectedEOF)
	tests := []struct {
		name        string
		err         error
		alone, with bool // retryable by the client alone, and with retryCutAnswer
	}{
		{"answer cut after the headers", cut, false, true},
		{"answer cut, in a deserialization error", &smithy.DeserializationError{Err: io.ErrUnexpectedEOF}, false, true},
		{"too late to send again", &lateRetryError{err: cut, left: time.Millisecond}, false, false},
		{"no answer in the request's time", &sendTimeoutError{d: time.Second, err: context.DeadlineExceeded}, true, true},
		{"no answer, and the writer stopping", &lateRetryError{err: &sendTimeoutError{d: time.Second}, stop: context.Canceled}, false, false},
		{"throttled", fakeAPIError("SlowDown"), true, true},
		{"access denied", fakeAPIError("AccessDenied"), false, false},
		{"connection reset", errors.New("read: connection reset by peer"), true, true},
		{"answer read whole but not XML", errors.New("XML syntax error on line 1"), false, false},
	}
	var o s3.Options
	ClientOptions(&o)
	alone := o.Retryer
	retryCutAnswer(&o)
	for _, tt := range tests {
		if got := alone.IsErrorRetryable(tt.err); got != tt.alone {
			t.Errorf("%s: retryable by the client alone = %v, want %v", tt.name, got, tt.alone)
		}
		if got := o.Retryer.IsErrorRetryable(tt.err); got != tt.with {
			t.Errorf("%s: retryable with retryCutAnswer = %v, want %v", tt.name, got, tt.with)
		}
	}
	if o.Retryer.MaxAttempts() != MaxAttempts {
		t.Errorf("MaxAttempts = %d after retryCutAnswer, want %d", o.Retryer.MaxAttempts(), MaxAttempts)
	}
}

// TestNewS3ClientMaxAttemptsFromEnv: as the README says, requests get
// MaxAttempts tries, and AWS_MAX_ATTEMPTS changes the number, also for
// calls that add retryCutAnswer.
func TestNewS3ClientMaxAttemptsFromEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	t.Setenv("AWS_S3_FORCE_PATH_STYLE", "")
	for _, tc := range []struct {
		env  string
		want int
	}{{"", MaxAttempts}, {"2", 2}, {"9", 9}} {
		t.Setenv("AWS_MAX_ATTEMPTS", tc.env)
		c, err := NewS3Client(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		o := c.Options()
		if got := o.Retryer.MaxAttempts(); got != tc.want {
			t.Errorf("AWS_MAX_ATTEMPTS=%q: MaxAttempts = %d, want %d", tc.env, got, tc.want)
		}
		retryCutAnswer(&o)
		if got := o.Retryer.MaxAttempts(); got != tc.want {
			t.Errorf("AWS_MAX_ATTEMPTS=%q: MaxAttempts = %d with retryCutAnswer, want %d", tc.env, got, tc.want)
		}
	}
}
