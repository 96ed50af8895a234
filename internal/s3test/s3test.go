// Package s3test runs a real S3 server (versitygw with its posix backend) on
// loopback for integration tests, and hands out clients configured for it.
//
// The server binary is found through $CSVSTREAM_VERSITYGW, then ./bin of the
// module root, then $PATH; `make tools` installs the pinned version. When the
// server cannot be started the test fails if $CSVSTREAM_REQUIRE_S3 or $CI is
// set (as under `make test` and in CI), and is skipped otherwise.
package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Credentials and region the server is started with.
const (
	AccessKey = "csvstreamtest"
	SecretKey = "csvstreamtestsecretkey"
	Region    = "us-east-1"
)

// Server is one running versitygw process serving a fresh temporary directory.
type Server struct {
	// Endpoint is the server's base URL, such as http://127.0.0.1:40123.
	Endpoint string
	// Dir is the posix backend's root: one sub-directory per bucket.
	Dir string

	proc *Process
}

var bucketSeq atomic.Int64

// Required reports whether a test must fail, rather than skip, when the
// server cannot be started.
func Required() bool {
	ci := strings.ToLower(os.Getenv("CI"))
	return os.Getenv("CSVSTREAM_REQUIRE_S3") != "" || (ci != "" && ci != "false" && ci != "0")
}

// Binary returns the path of the versitygw binary, or an error saying where
// it was looked for.
func Binary() (string, error) {
	if p := os.Getenv("CSVSTREAM_VERSITYGW"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("$CSVSTREAM_VERSITYGW: %w", err)
		}
		return p, nil
	}
	if root, err := moduleRoot(); err == nil {
		p := filepath.Join(root, "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	return "", errors.New("versitygw not found in $CSVSTREAM_VERSITYGW, ./bin or $PATH (run `make tools`)")
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found")
		}
		dir = parent
	}
}

// Start starts a server for the test and stops it when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := startFound(tb.TempDir(), tb.TempDir())
	if err != nil {
		if Required() {
			tb.Fatalf("s3test: cannot start versitygw: %v", err)
		}
		tb.Skipf("s3test: versitygw unavailable (set CSVSTREAM_REQUIRE_S3=1 to fail instead): %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

func startFound(dir, versions string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	return launch(context.Background(), bin, dir, versions)
}

// Launch starts the versitygw binary bin serving dir on a free loopback
// port and waits until it answers. The caller must call Stop.
func Launch(ctx context.Context, bin, dir string) (*Server, error) {
	return launch(ctx, bin, dir, "")
}

// launch is Launch, with bucket versioning available when versions names
// a directory for the old versions (a bucket still has to turn it on).
func launch(ctx context.Context, bin, dir, versions string) (*Server, error) {
	var lastErr error
	for attempt := 0; attempt < 5 && ctx.Err() == nil; attempt++ {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		out := &SyncBuffer{}
		args := []string{"--access", AccessKey, "--secret", SecretKey, "--region", Region, "--port", addr, "--quiet", "posix"}
		if versions != "" {
			args = append(args, "--versioning-dir", versions)
		}
		args = append(args, dir)
		proc, err := StartProcess(bin, args, append(os.Environ(), "VGW_LOG_LEVEL=silent"), out)
		if err != nil {
			return nil, err
		}
		s := &Server{Endpoint: "http://" + addr, Dir: dir, proc: proc}
		if err := s.waitReady(ctx, 10*time.Second); err != nil {
			s.Stop()
			lastErr = fmt.Errorf("%w; output: %s", err, strings.TrimSpace(out.String()))
			continue
		}
		return s, nil
	}
	if lastErr == nil {
		lastErr = ctx.Err()
	}
	return nil, fmt.Errorf("start versitygw: %w", lastErr)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Ready means this process serves s.Dir: a signed HeadBucket finds a
	// bucket only in it. Anything else answering on the port (the port is
	// free only until versitygw binds it) does not count.
	marker := fmt.Sprintf("s3test-ready-%d-%d", os.Getpid(), bucketSeq.Add(1))
	if err := os.Mkdir(filepath.Join(s.Dir, marker), 0o755); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(s.Dir, marker))
	client := s.Client(func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	for {
		hctx, hcancel := context.WithTimeout(ctx, time.Second)
		_, err := client.HeadBucket(hctx, &s3.HeadBucketInput{Bucket: aws.String(marker)})
		hcancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.proc.Exited():
			return errors.New("versitygw exited during start-up")
		case <-ctx.Done():
			return fmt.Errorf("versitygw not ready at %s: %w (last: %v)", s.Endpoint, ctx.Err(), err)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// Stop stops the server and waits for it. It is safe to call more than once.
func (s *Server) Stop() { s.proc.Stop() }

// Config returns an SDK configuration with the server's credentials and
// region and no endpoint; Client adds the endpoint.
func Config() aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	}
}

// Client returns a path-style client for the server. Options run after the
// defaults, so a test can swap the endpoint (to a fault proxy) or the retryer.
func (s *Server) Client(optFns ...func(*s3.Options)) *s3.Client {
	return ClientFor(s.Endpoint, optFns...)
}

// ClientFor returns a path-style client for any endpoint with the server's
// credentials, for example a fault-injecting proxy in front of the server.
func ClientFor(endpoint string, optFns ...func(*s3.Options)) *s3.Client {
	opts := append([]func(*s3.Options){func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	}}, optFns...)
	return s3.NewFromConfig(Config(), opts...)
}

// Env returns the environment a child process needs to reach the server
// with the SDK's standard variables.
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + SecretKey,
		"AWS_REGION=" + Region,
		"AWS_ENDPOINT_URL_S3=" + s.Endpoint,
		"AWS_S3_FORCE_PATH_STYLE=true",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Bucket creates a bucket with a unique name built from prefix and returns
// the name.
func (s *Server) Bucket(tb testing.TB, prefix string) string {
	tb.Helper()
	name := fmt.Sprintf("%s-%d", strings.ToLower(prefix), bucketSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		tb.Fatalf("s3test: create bucket %s: %v", name, err)
	}
	return name
}

// Put writes an object.
func (s *Server) Put(tb testing.TB, bucket, key string, body []byte) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := s.Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
	})
	if err != nil {
		tb.Fatalf("s3test: put s3://%s/%s: %v", bucket, key, err)
	}
}

// Get reads a whole object.
func (s *Server) Get(tb testing.TB, bucket, key string) []byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := s.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		tb.Fatalf("s3test: get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		tb.Fatalf("s3test: read s3://%s/%s: %v", bucket, key, err)
	}
	return b
}

// Uploads lists the multipart uploads in progress in a bucket.
func (s *Server) Uploads(tb testing.TB, bucket string) []types.MultipartUpload {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var all []types.MultipartUpload
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)}
	for {
		out, err := s.Client().ListMultipartUploads(ctx, in)
		if err != nil {
			tb.Fatalf("s3test: list multipart uploads in %s: %v", bucket, err)
		}
		all = append(all, out.Uploads...)
		if !aws.ToBool(out.IsTruncated) {
			return all
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}
