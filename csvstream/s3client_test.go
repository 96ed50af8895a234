package csvstream

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
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
