package csvstream_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/csvstream/csvstream/csvstream"
	"github.com/csvstream/csvstream/internal/faultproxy"
	"github.com/csvstream/csvstream/internal/s3test"
)

func createUpload(t *testing.T, client *s3.Client, bucket, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("create upload for s3://%s/%s: %v", bucket, key, err)
	}
	return aws.ToString(out.UploadId)
}

func uploadIDs(ups []types.MultipartUpload) []string {
	var ids []string
	for _, u := range ups {
		ids = append(ids, aws.ToString(u.UploadId))
	}
	slices.Sort(ids)
	return ids
}

// TestSweepS3 runs Sweep against a real server: an upload initiated before
// the cutoff is aborted, a fresh one and one outside the prefix are kept,
// and a dry run changes nothing.
func TestSweepS3(t *testing.T) {
	srv := s3test.Start(t)
	client := srv.Client()
	bucket := srv.Bucket(t, "sweep")
	ctx := context.Background()

	old := createUpload(t, client, bucket, "out/old.csv")
	outside := createUpload(t, client, bucket, "elsewhere/old.csv")
	for _, u := range srv.Uploads(t, bucket) {
		if u.Initiated == nil || u.Initiated.IsZero() {
			t.Fatalf("the server reports no initiation time for upload %s", aws.ToString(u.UploadId))
		}
	}
	// The server may report initiation times to the second; wait past
	// the age plus that rounding before creating the fresh upload.
	const age = 2 * time.Second
	time.Sleep(age + 700*time.Millisecond)
	fresh := createUpload(t, client, bucket, "out/fresh.csv")

	dry, err := csvstream.Sweep(ctx, client, bucket, "out/", csvstream.SweepOptions{OlderThan: age, DryRun: true})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if len(dry.Aborted) != 1 || dry.Aborted[0].UploadID != old || dry.Aborted[0].Key != "out/old.csv" || !dry.DryRun {
		t.Fatalf("dry run lists %+v, want only upload %s of out/old.csv", dry.Aborted, old)
	}
	if dry.Seen != 2 || dry.Kept != 1 {
		t.Errorf("dry run: seen %d kept %d, want 2 and 1", dry.Seen, dry.Kept)
	}
	if got := len(srv.Uploads(t, bucket)); got != 3 {
		t.Fatalf("after the dry run %d uploads remain, want all 3", got)
	}

	res, err := csvstream.Sweep(ctx, client, bucket, "out/", csvstream.SweepOptions{OlderThan: age})
	if err != nil {
		t.Fatalf("sweep: %v", err)
	}
	if len(res.Aborted) != 1 || res.Aborted[0].UploadID != old {
		t.Fatalf("sweep aborted %+v, want only upload %s", res.Aborted, old)
	}
	if in := res.Aborted[0].Initiated; in.IsZero() || !in.Before(res.Cutoff) {
		t.Errorf("aborted upload initiated %v, cutoff %v", in, res.Cutoff)
	}
	want := []string{fresh, outside}
	slices.Sort(want)
	if got := uploadIDs(srv.Uploads(t, bucket)); !slices.Equal(got, want) {
		t.Fatalf("uploads left %v, want the fresh one and the one outside the prefix %v", got, want)
	}

	// The default age keeps everything just created.
	res, err = csvstream.Sweep(ctx, client, bucket, "", csvstream.SweepOptions{})
	if err != nil {
		t.Fatalf("sweep with the default age: %v", err)
	}
	if len(res.Aborted) != 0 || res.Kept != 2 {
		t.Fatalf("sweep with the default age aborted %+v, kept %d; want none aborted, 2 kept", res.Aborted, res.Kept)
	}
}

// TestSweepUnansweredRequests puts a proxy between Sweep and a real server
// that stops answering, or loses an answer: a stalled listing or abort is
// sent again once its attempt times out, and an upload whose abort was
// carried out but never answered, so that the next request found it gone,
// counts as aborted, not as kept.
func TestSweepUnansweredRequests(t *testing.T) {
	srv := s3test.Start(t)
	tests := []struct {
		name   string
		faults []faultproxy.Fault
		aborts int // abort requests sent for the two uploads
		lists  int // listings sent
	}{
		{"listing stalled", []faultproxy.Fault{{Kind: faultproxy.Stall, Match: faultproxy.IsListUploads}}, 2, 2},
		{"listing answer cut", []faultproxy.Fault{{Kind: faultproxy.CutResponse, After: 20, Match: faultproxy.IsListUploads}}, 2, 2},
		{"abort stalled", []faultproxy.Fault{{Kind: faultproxy.Stall, Match: faultproxy.IsAbortUpload}}, 3, 1},
		// The server carried out the abort whose answer was lost: the one
		// sent again finds the upload gone, which counts as aborted.
		{"abort answer lost", []faultproxy.Fault{{Kind: faultproxy.DropResponse, Match: faultproxy.IsAbortUpload}}, 3, 1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket := srv.Bucket(t, fmt.Sprintf("sweepstall%d", i))
			ids := []string{createUpload(t, srv.Client(), bucket, "out/a.csv"), createUpload(t, srv.Client(), bucket, "out/b.csv")}
			slices.Sort(ids)
			time.Sleep(1500 * time.Millisecond) // past the age, with the server's rounding to the second
			proxy := faultproxy.New(t, srv.Endpoint)
			for _, f := range tt.faults {
				proxy.Inject(f)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := csvstream.Sweep(ctx, s3test.ClientFor(proxy.URL), bucket, "out/",
				csvstream.SweepOptions{OlderThan: 500 * time.Millisecond, AttemptTimeout: time.Second})
			if err != nil {
				t.Fatalf("sweep: %v", err)
			}
			var got []string
			for _, u := range res.Aborted {
				got = append(got, u.UploadID)
			}
			slices.Sort(got)
			if !slices.Equal(got, ids) || res.Seen != 2 || res.Kept != 0 {
				t.Errorf("result %+v; want both uploads %v aborted", res, ids)
			}
			if left := srv.Uploads(t, bucket); len(left) != 0 {
				t.Errorf("uploads left: %v", uploadIDs(left))
			}
			if proxy.Fired(tt.faults[0].Kind) != 1 {
				t.Errorf("the fault fired %d times, want 1", proxy.Fired(tt.faults[0].Kind))
			}
			aborts, lists := 0, 0
			for _, r := range proxy.Requests() {
				if strings.HasPrefix(r, "DELETE ") {
					aborts++
				}
				if strings.HasPrefix(r, "GET ") && strings.Contains(r, "uploads") {
					lists++
				}
			}
			if aborts != tt.aborts {
				t.Errorf("%d aborts sent, want %d", aborts, tt.aborts)
			}
			if lists != tt.lists {
				t.Errorf("%d listings sent, want %d", lists, tt.lists)
			}
		})
	}
}

// lateAnswerAPI lists one old upload and answers its first abort only as
// the request's context ends, as an answer arriving just as the attempt
// runs out; any later abort finds the upload gone.
type lateAnswerAPI struct{ aborts atomic.Int32 }

func (a *lateAnswerAPI) ListMultipartUploads(ctx context.Context, in *s3.ListMultipartUploadsInput, _ ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error) {
	return &s3.ListMultipartUploadsOutput{Uploads: []types.MultipartUpload{{
		Key: aws.String("out/a.csv"), UploadId: aws.String("u1"), Initiated: aws.Time(time.Now().Add(-48 * time.Hour)),
	}}}, nil
}

func (a *lateAnswerAPI) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, _ ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	if a.aborts.Add(1) > 1 {
		return nil, &types.NoSuchUpload{}
	}
	<-ctx.Done()
	return &s3.AbortMultipartUploadOutput{}, nil
}

// TestSweepAnswerAtTheTimeout: an abort answered as its attempt ran out
// succeeded; it is not sent again, and the upload counts as aborted.
func TestSweepAnswerAtTheTimeout(t *testing.T) {
	api := &lateAnswerAPI{}
	res, err := csvstream.Sweep(context.Background(), api, "b", "out/", csvstream.SweepOptions{AttemptTimeout: 50 * time.Millisecond})
	if err != nil || len(res.Aborted) != 1 || res.Kept != 0 || api.aborts.Load() != 1 {
		t.Errorf("result %+v, err %v, %d aborts sent; want the upload aborted by one request", res, err, api.aborts.Load())
	}
}

// attemptAPI lists one old upload. The listing or the abort it is told to
// stall waits for the request's context to end, as a request on a
// connection that stopped answering does. It notes how long the first
// listing was given.
type attemptAPI struct {
	stallList, stallAbort bool
	lists, aborts         atomic.Int32
	listBudget            time.Duration
}

func (a *attemptAPI) ListMultipartUploads(ctx context.Context, in *s3.ListMultipartUploadsInput, _ ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error) {
	if a.lists.Add(1) == 1 {
		if d, ok := ctx.Deadline(); ok {
			a.listBudget = time.Until(d)
		}
	}
	if a.stallList {
		<-ctx.Done()
		return nil, fmt.Errorf("operation error S3: ListMultipartUploads: %w", ctx.Err())
	}
	return &s3.ListMultipartUploadsOutput{Uploads: []types.MultipartUpload{{
		Key: aws.String("out/a.csv"), UploadId: aws.String("u1"), Initiated: aws.Time(time.Now().Add(-48 * time.Hour)),
	}}}, nil
}

func (a *attemptAPI) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, _ ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	a.aborts.Add(1)
	if a.stallAbort {
		<-ctx.Done()
		return nil, fmt.Errorf("operation error S3: AbortMultipartUpload: %w", ctx.Err())
	}
	return &s3.AbortMultipartUploadOutput{}, nil
}

// TestSweepAttempts checks how often a request that gets no answer is
// sent: three times in all, each attempt given AttemptTimeout, a minute
// unless it says otherwise.
func TestSweepAttempts(t *testing.T) {
	tests := []struct {
		name          string
		api           *attemptAPI
		timeout       time.Duration
		lists, aborts int32
		failed        int
		errSubstr     string
	}{
		{"a listing never answered", &attemptAPI{stallList: true}, 20 * time.Millisecond, 3, 0, 0, "list multipart uploads (page 1): timed out 3 times after 20ms"},
		{"an abort never answered", &attemptAPI{stallAbort: true}, 20 * time.Millisecond, 1, 3, 1, "abort upload u1 of s3://b/out/a.csv: timed out 3 times after 20ms"},
		{"answered, with the default timeout", &attemptAPI{}, 0, 1, 1, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := csvstream.Sweep(context.Background(), tt.api, "b", "out/", csvstream.SweepOptions{AttemptTimeout: tt.timeout})
			if tt.errSubstr == "" && err != nil || tt.errSubstr != "" && (err == nil || !strings.Contains(err.Error(), tt.errSubstr)) {
				t.Errorf("error %v, want one containing %q", err, tt.errSubstr)
			}
			if l, a := tt.api.lists.Load(), tt.api.aborts.Load(); l != tt.lists || a != tt.aborts || res.Failed != tt.failed {
				t.Errorf("%d listings and %d aborts sent, %d failed; want %d, %d and %d", l, a, res.Failed, tt.lists, tt.aborts, tt.failed)
			}
			if tt.timeout == 0 && (tt.api.listBudget <= 59*time.Second || tt.api.listBudget > time.Minute) {
				t.Errorf("the listing was given %v, want a minute", tt.api.listBudget)
			}
		})
	}
}

// pagedAPI is a fake SweepAPI that lists its uploads a page at a time and
// fails the aborts it is told to.
type pagedAPI struct {
	uploads   []types.MultipartUpload
	pageSize  int
	stuck     bool            // answer every page as truncated with the same markers
	denied    bool            // refuse the listing with 403 Forbidden
	failAbort map[string]bool // upload ids whose abort fails
	gone      map[string]bool // upload ids that answer NoSuchUpload
	// urlKeys URL-encodes the keys listed, as S3 does when asked to, and
	// takes a key marker as the key itself. Asked for plain keys, it fails
	// as the S3 client does on a key XML 1.0 cannot carry.
	urlKeys bool
	aborted []string
	lists   int
}

type codeError struct{ code string }

func (e codeError) Error() string     { return "api error " + e.code }
func (e codeError) ErrorCode() string { return e.code }

// forbidden is S3's answer to a request the caller may not make.
type forbidden struct{ codeError }

func (forbidden) HTTPStatusCode() int { return 403 }

func (p *pagedAPI) ListMultipartUploads(ctx context.Context, in *s3.ListMultipartUploadsInput, _ ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error) {
	p.lists++
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("operation error S3: ListMultipartUploads: canceled, %w", err)
	}
	if p.denied {
		return nil, forbidden{codeError{"AccessDenied"}}
	}
	if p.lists > 100 {
		return nil, errors.New("listed more than 100 pages")
	}
	start := 0
	if in.UploadIdMarker != nil {
		for i, u := range p.uploads {
			if aws.ToString(u.UploadId) == *in.UploadIdMarker {
				start = i + 1
			}
		}
	}
	if in.KeyMarker != nil && (start == 0 || aws.ToString(p.uploads[start-1].Key) != *in.KeyMarker) {
		return nil, fmt.Errorf("key marker %q is not the last key listed", *in.KeyMarker)
	}
	if p.stuck {
		start = 0
	}
	end := min(start+p.pageSize, len(p.uploads))
	out := &s3.ListMultipartUploadsOutput{Uploads: p.uploads[start:end], IsTruncated: aws.Bool(end < len(p.uploads))}
	if end < len(p.uploads) {
		last := p.uploads[end-1]
		out.NextKeyMarker, out.NextUploadIdMarker = last.Key, last.UploadId
	}
	if p.urlKeys && in.EncodingType != types.EncodingTypeUrl {
		for _, u := range out.Uploads {
			if strings.ContainsFunc(aws.ToString(u.Key), func(r rune) bool { return r < ' ' }) {
				return nil, errors.New("deserialization failed: XML syntax error: illegal character code")
			}
		}
	}
	if p.urlKeys && in.EncodingType == types.EncodingTypeUrl {
		out.EncodingType = types.EncodingTypeUrl
		out.Uploads = slices.Clone(out.Uploads)
		for i, u := range out.Uploads {
			out.Uploads[i].Key = aws.String(url.QueryEscape(aws.ToString(u.Key)))
		}
		if out.NextKeyMarker != nil {
			out.NextKeyMarker = aws.String(url.QueryEscape(*out.NextKeyMarker))
		}
	}
	return out, nil
}

func (p *pagedAPI) AbortMultipartUpload(_ context.Context, in *s3.AbortMultipartUploadInput, _ ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	id := aws.ToString(in.UploadId)
	i := slices.IndexFunc(p.uploads, func(u types.MultipartUpload) bool { return aws.ToString(u.UploadId) == id })
	switch {
	case i < 0 || aws.ToString(p.uploads[i].Key) != aws.ToString(in.Key):
		return nil, codeError{"NoSuchUpload"} // no such upload of that key
	case p.failAbort[id]:
		return nil, codeError{"AccessDenied"}
	case p.gone[id]:
		return nil, codeError{"NoSuchUpload"}
	}
	p.aborted = append(p.aborted, id)
	return &s3.AbortMultipartUploadOutput{}, nil
}

func TestSweepPages(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	var uploads []types.MultipartUpload
	for i := range 7 {
		uploads = append(uploads, types.MultipartUpload{
			Key:       aws.String(fmt.Sprintf("out/%d.csv", i)),
			UploadId:  aws.String(fmt.Sprintf("u%d", i)),
			Initiated: aws.Time(now.Add(-time.Duration(i) * 10 * time.Hour)), // u0 now ... u6 60h ago
		})
	}
	uploads = append(uploads, types.MultipartUpload{Key: aws.String("out/x.csv"), UploadId: aws.String("untimed")})
	// One key's uploads, as a job retried again and again leaves them.
	var oneKey []types.MultipartUpload
	for i := range 5 {
		oneKey = append(oneKey, types.MultipartUpload{
			Key:       aws.String("out/retried.csv"),
			UploadId:  aws.String(fmt.Sprintf("r%d", i)),
			Initiated: aws.Time(now.Add(-48*time.Hour + time.Duration(i)*time.Minute)),
		})
	}

	tests := []struct {
		name      string
		api       *pagedAPI
		opt       csvstream.SweepOptions
		aborted   []string
		kept      int
		errSubstr string
		errIs     error // when set, err must wrap it
	}{
		{
			name:    "default age over pages",
			api:     &pagedAPI{uploads: uploads, pageSize: 3},
			aborted: []string{"u3", "u4", "u5", "u6"},
			kept:    4,
		},
		{
			name:    "dry run aborts nothing",
			api:     &pagedAPI{uploads: uploads, pageSize: 2},
			opt:     csvstream.SweepOptions{DryRun: true, OlderThan: 45 * time.Hour},
			aborted: []string{"u5", "u6"},
			kept:    6,
		},
		{
			// "Older than" is strict: u3 is 30h old to the nanosecond.
			name:    "an upload exactly at the cutoff is kept",
			api:     &pagedAPI{uploads: uploads, pageSize: 100},
			opt:     csvstream.SweepOptions{OlderThan: 30 * time.Hour},
			aborted: []string{"u4", "u5", "u6"},
			kept:    5,
		},
		{
			name:      "a failed abort does not stop the rest",
			api:       &pagedAPI{uploads: uploads, pageSize: 100, failAbort: map[string]bool{"u4": true}, gone: map[string]bool{"u5": true}},
			aborted:   []string{"u3", "u6"},
			kept:      5,
			errSubstr: "abort upload u4 of s3://b/out/4.csv",
		},
		{
			// A page may end between two uploads of one key: the key
			// marker stays and the upload id marker moves on.
			name:    "uploads of one key over pages",
			api:     &pagedAPI{uploads: oneKey, pageSize: 2},
			aborted: []string{"r0", "r1", "r2", "r3", "r4"},
		},
		{
			name:      "markers that do not advance",
			api:       &pagedAPI{uploads: uploads, pageSize: 3, stuck: true},
			opt:       csvstream.SweepOptions{DryRun: true},
			errSubstr: "markers do not advance",
		},
		{
			name:      "a refused listing is access denied",
			api:       &pagedAPI{denied: true},
			errSubstr: "list multipart uploads (page 1)",
			errIs:     csvstream.ErrAccessDenied,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opt.Now = func() time.Time { return now }
			res, err := csvstream.Sweep(context.Background(), tt.api, "b", "out/", tt.opt)
			if tt.errSubstr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errSubstr) {
					t.Fatalf("error %v, want one containing %q", err, tt.errSubstr)
				}
				if tt.errIs != nil && !errors.Is(err, tt.errIs) {
					t.Errorf("error %v does not wrap %v", err, tt.errIs)
				}
				if tt.aborted == nil {
					return
				}
			} else if err != nil {
				t.Fatalf("sweep: %v", err)
			}
			var got []string
			for _, u := range res.Aborted {
				got = append(got, u.UploadID)
			}
			if !slices.Equal(got, tt.aborted) {
				t.Errorf("aborted %v, want %v", got, tt.aborted)
			}
			if tt.opt.DryRun && len(tt.api.aborted) != 0 {
				t.Errorf("dry run sent aborts for %v", tt.api.aborted)
			}
			if !tt.opt.DryRun && !slices.Equal(tt.api.aborted, tt.aborted) {
				t.Errorf("aborts sent for %v, want %v", tt.api.aborted, tt.aborted)
			}
			if res.Kept != tt.kept || res.Seen != len(tt.api.uploads) {
				t.Errorf("kept %d of %d seen, want %d of %d", res.Kept, res.Seen, tt.kept, len(tt.api.uploads))
			}
			if len(res.Aborted)+res.Kept+res.Failed != res.Seen {
				t.Errorf("%d aborted, %d kept and %d failed do not add up to the %d seen", len(res.Aborted), res.Kept, res.Failed, res.Seen)
			}
		})
	}
}

// TestSweepURLEncodedKeys lists keys that XML 1.0 cannot carry as they are
// (a control character) or that URL encoding makes ambiguous (a space and a
// plus sign): Sweep asks for them URL-encoded, decodes them, and aborts
// each upload under its own key, across pages. A server that ignores the
// request and lists keys as they are (it does not say it encoded them) has
// them taken as they are.
func TestSweepURLEncodedKeys(t *testing.T) {
	old := time.Now().Add(-48 * time.Hour)
	tests := []struct {
		name    string
		urlKeys bool
		keys    []string
	}{
		{"encoded", true, []string{"out/a\x01b.csv", "out/a b.csv", "out/a+b.csv", "out/100%.csv", "out/é.csv"}},
		{"not encoded", false, []string{"out/a b.csv", "out/a+b.csv", "out/100%.csv", "out/%41.csv", "out/é.csv"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var uploads []types.MultipartUpload
			for i, key := range tt.keys {
				uploads = append(uploads, types.MultipartUpload{Key: aws.String(key), UploadId: aws.String(fmt.Sprintf("u%d", i)), Initiated: aws.Time(old)})
			}
			api := &pagedAPI{uploads: uploads, pageSize: 2, urlKeys: tt.urlKeys}
			res, err := csvstream.Sweep(context.Background(), api, "b", "out/", csvstream.SweepOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"u0", "u1", "u2", "u3", "u4"}; !slices.Equal(api.aborted, want) || res.Seen != 5 || res.Kept != 0 {
				t.Errorf("aborted %v (%d seen, %d kept), want %v", api.aborted, res.Seen, res.Kept, want)
			}
			for i, u := range res.Aborted {
				if u.Key != aws.ToString(uploads[i].Key) {
					t.Errorf("aborted upload %s has key %q, want %q", u.UploadID, u.Key, aws.ToString(uploads[i].Key))
				}
			}
		})
	}
}

// TestSweepManyFailures has every abort refused: the error spells out the
// first ten and counts the rest, so that it stays short enough to log, and
// the result counts each one as failed.
func TestSweepManyFailures(t *testing.T) {
	old := time.Now().Add(-48 * time.Hour)
	api := &pagedAPI{pageSize: 7, failAbort: map[string]bool{}}
	for i := range 25 {
		id := fmt.Sprintf("u%02d", i)
		api.uploads = append(api.uploads, types.MultipartUpload{Key: aws.String(fmt.Sprintf("out/%02d.csv", i)), UploadId: aws.String(id), Initiated: aws.Time(old)})
		api.failAbort[id] = true
	}
	res, err := csvstream.Sweep(context.Background(), api, "b", "out/", csvstream.SweepOptions{})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if n := strings.Count(msg, "abort upload"); n != 10 || !strings.Contains(msg, "abort upload u09 of s3://b/out/09.csv") ||
		!strings.HasSuffix(msg, "sweep s3://b/out/: 15 more aborts failed") {
		t.Errorf("error names %d failed aborts:\n%s\nwant the first 10 and a count of the other 15", n, msg)
	}
	if res.Failed != 25 || res.Seen != 25 || len(res.Aborted) != 0 || res.Kept != 0 {
		t.Errorf("result %+v, want 25 seen and 25 failed", res)
	}
}

// TestSweepStopped checks that a sweep stopped by its context says why, not
// only that the client's context was cancelled.
func TestSweepStopped(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("the invocation's time is up"))
	_, err := csvstream.Sweep(ctx, &pagedAPI{}, "b", "out/", csvstream.SweepOptions{})
	if err == nil || !strings.HasPrefix(err.Error(), "sweep s3://b/out/: stopped: the invocation's time is up") || !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want one saying first why the sweep stopped, and wrapping the client's error", err)
	}
}

func TestSweepBadOptions(t *testing.T) {
	api := &pagedAPI{}
	if _, err := csvstream.Sweep(context.Background(), api, "", "p/", csvstream.SweepOptions{}); err == nil {
		t.Error("no bucket: no error")
	}
	if _, err := csvstream.Sweep(context.Background(), api, "b", "p/", csvstream.SweepOptions{OlderThan: -time.Second}); err == nil {
		t.Error("negative age: no error")
	}
	if _, err := csvstream.Sweep(context.Background(), api, "b", "p/", csvstream.SweepOptions{AttemptTimeout: -time.Second}); err == nil {
		t.Error("negative attempt timeout: no error")
	}
	if api.lists != 0 {
		t.Errorf("bad options still listed %d pages", api.lists)
	}
}

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		in             string
		bucket, prefix string
		ok             bool
	}{
		{"s3://b/out/", "b", "out/", true},
		{"s3://b/out", "b", "out", true},
		{"s3://b/", "b", "", true},
		{"s3://b", "b", "", true},
		{"s3:///x", "", "", false},
		{"b/out/", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		b, p, err := csvstream.ParsePrefix(tt.in)
		if (err == nil) != tt.ok || b != tt.bucket || p != tt.prefix {
			t.Errorf("ParsePrefix(%q) = %q, %q, %v; want %q, %q, ok=%v", tt.in, b, p, err, tt.bucket, tt.prefix, tt.ok)
		}
	}
}

// stopOnAbortAPI lists n old uploads and, on the first abort, stops the
// sweep's context, as the invocation's deadline would while it is sent.
type stopOnAbortAPI struct {
	n      int
	stop   context.CancelCauseFunc
	aborts int
}

func (a *stopOnAbortAPI) ListMultipartUploads(ctx context.Context, in *s3.ListMultipartUploadsInput, _ ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	old := time.Now().Add(-48 * time.Hour)
	out := &s3.ListMultipartUploadsOutput{IsTruncated: aws.Bool(false)}
	for i := range a.n {
		out.Uploads = append(out.Uploads, types.MultipartUpload{Key: aws.String(fmt.Sprintf("out/%d.csv", i)), UploadId: aws.String(fmt.Sprintf("u%d", i)), Initiated: &old})
	}
	return out, nil
}

func (a *stopOnAbortAPI) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, _ ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	a.aborts++
	if a.aborts == 1 {
		a.stop(errors.New("the invocation's time is up"))
	}
	return nil, fmt.Errorf("operation error S3: AbortMultipartUpload: canceled, %w", context.Canceled)
}

// TestSweepStopsAtFirstFailedAbortAfterStop checks that a sweep whose
// context ends during an abort stops there: the uploads it never tried are
// not sent aborts, nor counted as failed aborts.
func TestSweepStopsAtFirstFailedAbortAfterStop(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	api := &stopOnAbortAPI{n: 5, stop: cancel}
	res, err := csvstream.Sweep(ctx, api, "b", "out/", csvstream.SweepOptions{})
	if err == nil || !strings.Contains(err.Error(), "the invocation's time is up") {
		t.Errorf("err = %v, want the stop's cause", err)
	}
	if api.aborts != 1 || res.Failed != 1 {
		t.Errorf("%d aborts sent, result %+v; want 1 abort and Failed 1", api.aborts, res)
	}
}

// status404 is a 404 answer without S3's NoSuchUpload code, as a server
// that sends no error body gives.
type status404 struct{}

func (status404) Error() string { return "api error NotFound: Not Found" }

func (status404) ErrorCode() string { return "NotFound" }

func (status404) HTTPStatusCode() int { return 404 }

// goneAPI lists one old upload whose abort is answered with a bare 404.
type goneAPI struct{ stopOnAbortAPI }

func (a *goneAPI) AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	a.aborts++
	return nil, status404{}
}

// TestSweepBare404IsGone checks that an abort answered 404 without the
// NoSuchUpload code counts the upload as gone (kept), as isNoSuchUpload
// says, not as a failed abort.
func TestSweepBare404IsGone(t *testing.T) {
	api := &goneAPI{stopOnAbortAPI{n: 1}}
	res, err := csvstream.Sweep(context.Background(), api, "b", "out/", csvstream.SweepOptions{})
	if err != nil || res.Kept != 1 || res.Failed != 0 {
		t.Fatalf("result %+v, err %v; want the upload kept, no failure", res, err)
	}
}
