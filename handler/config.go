package handler

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/csvstream/csvstream/csvstream"
)

// Environment variables ConfigFromEnv reads.
const (
	EnvOutput          = "CSVSTREAM_OUTPUT"           // required: s3://bucket/prefix/ for valid rows
	EnvRejects         = "CSVSTREAM_REJECTS"          // s3://bucket/prefix/ for rejects; default s3://<output bucket>/rejects/
	EnvSchema          = "CSVSTREAM_SCHEMA"           // s3://bucket/key, or a path in the deployment package
	EnvInputPrefix     = "CSVSTREAM_INPUT_PREFIX"     // the key prefix the trigger watches, such as incoming/
	EnvPartSize        = "CSVSTREAM_PART_SIZE"        // first part size, such as 8MiB; 5MiB to 5GiB
	EnvConcurrency     = "CSVSTREAM_CONCURRENCY"      // parts uploaded at once, 1 to 64
	EnvReadConcurrency = "CSVSTREAM_READ_CONCURRENCY" // ranges of the source read at once, 1 to 64
	EnvMaxRejectRatio  = "CSVSTREAM_MAX_REJECT_RATIO" // 0 to 1; the job fails above it
	EnvSweepOlderThan  = "CSVSTREAM_SWEEP_OLDER_THAN" // age of the uploads a sweep aborts, such as 24h
	EnvDelimiter       = "CSVSTREAM_DELIMITER"        // field delimiter, such as ; or tab; default ,
	EnvMaxRecordSize   = "CSVSTREAM_MAX_RECORD_SIZE"  // largest record accepted, such as 1MiB
)

// MinSweepAge is the youngest age a sweep may be told to abort uploads at:
// twice the longest a function can run (15 minutes), so that a sweep never
// aborts the upload of a job still running.
const MinSweepAge = 30 * time.Minute

// parseSweepAge reads the age of the uploads a sweep aborts, which must be
// at least least.
func parseSweepAge(s string, least time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		// Not a duration at all, or past the longest one (about 292 years).
		return 0, fmt.Errorf("older than %s: want a duration such as 24h or 90m, of at most 2562047h", quoteValue(s))
	}
	if d < least {
		return 0, fmt.Errorf("older than %s: want a duration of at least %v, such as 24h: a younger upload may belong to a job still running", quoteValue(s), least)
	}
	return d, nil
}

// DefaultRejectsPrefix is the key prefix of the rejects, in the output
// bucket, when CSVSTREAM_REJECTS is not set.
const DefaultRejectsPrefix = "rejects/"

// DefaultDeadlineMargin is how long before the invocation's deadline a job
// stops when Config.DeadlineMargin is zero; it is capped at a quarter of
// the time the invocation has.
const DefaultDeadlineMargin = 10 * time.Second

// Prefix is a place in S3 named by bucket and key prefix.
type Prefix struct {
	Bucket string
	Prefix string // empty for the whole bucket; otherwise ends with "/" (New adds one)
}

// ParsePrefix parses s3://bucket/prefix. A non-empty prefix is given a
// trailing "/" if it lacks one, so that it names a folder.
func ParsePrefix(s string) (Prefix, error) {
	b, p, err := csvstream.ParsePrefix(s)
	if err != nil {
		return Prefix{}, err
	}
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return Prefix{Bucket: b, Prefix: p}, nil
}

// String returns p as s3://bucket/prefix.
func (p Prefix) String() string { return "s3://" + p.Bucket + "/" + p.Prefix }

// IsZero reports whether p names nothing.
func (p Prefix) IsZero() bool { return p == Prefix{} }

// contains reports whether loc lies under p.
func (p Prefix) contains(loc csvstream.Location) bool {
	return loc.Bucket == p.Bucket && strings.HasPrefix(loc.Key, p.Prefix)
}

// Config is the handler's configuration, fixed for the life of the
// function instance. ConfigFromEnv builds it from the environment; the
// zero values of the optional fields work.
type Config struct {
	// Output is where valid rows go. Required.
	Output Prefix
	// Rejects is where rejected rows go; zero means the output bucket
	// with DefaultRejectsPrefix.
	Rejects Prefix
	// InputPrefix is the key prefix the trigger watches. Its folder, up
	// to its last "/", is removed from a source key that starts with it
	// to make the output keys, and no output may be written under it, in
	// any bucket.
	InputPrefix string

	// SchemaLocation names the schema. An S3 schema is read on every
	// invocation, so a changed schema is picked up at once, and so is a
	// local one, unless Schema holds it; zero means checking
	// well-formedness only.
	SchemaLocation csvstream.Location
	// Schema is a schema loaded once, at start-up; it takes precedence
	// over SchemaLocation. ConfigFromEnv loads a schema given as a local
	// path here.
	Schema *csvstream.Schema

	// Scan sets the delimiter and the record size bound of every job; a
	// direct payload may name another delimiter. The zero value works.
	Scan csvstream.ScanOptions

	// PartSize is the first multipart part size, from csvstream.MinPartSize
	// to csvstream.MaxPartSize; zero means the writer's default.
	PartSize int64
	// Concurrency is how many parts are uploaded at once, at most
	// csvstream.MaxConcurrency; zero means the writer's default.
	Concurrency int
	// ReadConcurrency is how many ranges of a large source are read at
	// once, at most csvstream.MaxConcurrency; zero means the reader's
	// default.
	ReadConcurrency int
	// MaxRejectRatio fails a job whose share of rejected rows exceeds it;
	// nil sets no limit.
	MaxRejectRatio *float64
	// SweepOlderThan is the age of the multipart uploads a scheduled sweep
	// aborts; zero means csvstream.DefaultSweepAge. It must be at least
	// MinSweepAge.
	SweepOlderThan time.Duration
	// minSweepAge replaces MinSweepAge when set, for tests that cannot wait
	// half an hour.
	minSweepAge time.Duration
	// DeadlineMargin is how long before the invocation's deadline a job
	// and its uploads stop. Aborting the uploads is given the first half
	// of it, leaving the second half for the result. Zero means
	// DefaultDeadlineMargin.
	DeadlineMargin time.Duration

	// Log receives the JSON log lines and the CloudWatch metric lines;
	// nil means standard output, which Lambda sends to CloudWatch Logs.
	Log io.Writer
}

// ConfigFromEnv reads the configuration from the CSVSTREAM_* variables
// through getenv (os.Getenv in the function). A schema given as a local
// path is loaded now. A missing or malformed value is reported with the
// variable's name.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var cfg Config
	var err error
	out := strings.TrimSpace(getenv(EnvOutput))
	if out == "" {
		return cfg, fmt.Errorf("%s is required: where valid rows go, as s3://bucket/prefix/", EnvOutput)
	}
	if cfg.Output, err = ParsePrefix(out); err != nil {
		return cfg, fmt.Errorf("%s: %w", EnvOutput, err)
	}
	if v := strings.TrimSpace(getenv(EnvRejects)); v != "" {
		if cfg.Rejects, err = ParsePrefix(v); err != nil {
			return cfg, fmt.Errorf("%s: %w", EnvRejects, err)
		}
	}
	cfg.InputPrefix = strings.TrimSpace(getenv(EnvInputPrefix))
	if strings.Contains(cfg.InputPrefix, "://") {
		return cfg, fmt.Errorf("%s=%q: want a key prefix such as incoming/, not a URL", EnvInputPrefix, cfg.InputPrefix)
	}
	// The recursion guard refuses any output under the watched prefix, in
	// any bucket: with the configured prefixes there, every job would be.
	// An unset CSVSTREAM_REJECTS is named as such, since its default is
	// what lies there.
	rejects := EnvRejects
	if cfg.Rejects.IsZero() {
		rejects += " (unset, so its default)"
	}
	for _, p := range []struct {
		env    string
		prefix Prefix
	}{{EnvOutput, cfg.Output}, {rejects, cfg.withDefaults().Rejects}} {
		if cfg.InputPrefix != "" && strings.HasPrefix(p.prefix.Prefix, cfg.InputPrefix) {
			return cfg, fmt.Errorf("%s %s lies under %s=%q: every job would be refused as a recursion risk", p.env, p.prefix, EnvInputPrefix, cfg.InputPrefix)
		}
	}
	if v := strings.TrimSpace(getenv(EnvSchema)); v != "" {
		loc, err := csvstream.ParseLocation(v)
		if err != nil || loc.IsStdio() {
			return cfg, fmt.Errorf("%s=%q: want s3://bucket/key or a path in the deployment package", EnvSchema, v)
		}
		if loc.IsS3() && strings.HasSuffix(loc.Key, "/") {
			return cfg, fmt.Errorf("%s=%q ends with /: it names a folder; name the schema object, such as %sschema.json", EnvSchema, v, v)
		}
		cfg.SchemaLocation = loc
		if !loc.IsS3() {
			if cfg.Schema, err = csvstream.LoadSchema(context.Background(), nil, loc); err != nil {
				return cfg, fmt.Errorf("%s: %w", EnvSchema, err)
			}
		}
	}
	if v := strings.TrimSpace(getenv(EnvPartSize)); v != "" {
		n, err := csvstream.ParseSize(v)
		if err != nil || n < csvstream.MinPartSize || n > csvstream.MaxPartSize {
			return cfg, fmt.Errorf("%s=%q: want a size from 5MiB to 5GiB, such as 8MiB", EnvPartSize, v)
		}
		cfg.PartSize = n
	}
	if v := strings.TrimSpace(getenv(EnvConcurrency)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > csvstream.MaxConcurrency {
			return cfg, fmt.Errorf("%s=%q: want a whole number from 1 to %d", EnvConcurrency, v, csvstream.MaxConcurrency)
		}
		cfg.Concurrency = n
	}
	if v := strings.TrimSpace(getenv(EnvReadConcurrency)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > csvstream.MaxConcurrency {
			return cfg, fmt.Errorf("%s=%q: want a whole number from 1 to %d", EnvReadConcurrency, v, csvstream.MaxConcurrency)
		}
		cfg.ReadConcurrency = n
	}
	if v := strings.TrimSpace(getenv(EnvMaxRejectRatio)); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || !(r >= 0 && r <= 1) {
			return cfg, fmt.Errorf("%s=%q: want a number from 0 to 1", EnvMaxRejectRatio, v)
		}
		cfg.MaxRejectRatio = &r
	}
	if v := getenv(EnvDelimiter); v != "" { // not trimmed: the delimiter may be a space
		if cfg.Scan.Comma, err = csvstream.ParseDelimiter(v); err != nil {
			return cfg, fmt.Errorf("%s: %w", EnvDelimiter, err)
		}
	}
	if v := strings.TrimSpace(getenv(EnvMaxRecordSize)); v != "" {
		n, err := csvstream.ParseSize(v)
		if err != nil || n < 1 || n > csvstream.MaxRecordSizeLimit {
			return cfg, fmt.Errorf("%s=%q: want a size from 1B to %dMiB, such as 1MiB", EnvMaxRecordSize, v, csvstream.MaxRecordSizeLimit>>20)
		}
		cfg.Scan.MaxRecordSize = int(n)
	}
	if v := strings.TrimSpace(getenv(EnvSweepOlderThan)); v != "" {
		if cfg.SweepOlderThan, err = parseSweepAge(v, MinSweepAge); err != nil {
			return cfg, fmt.Errorf("%s: %w", EnvSweepOlderThan, err)
		}
	}
	return cfg, nil
}

// checkOptions reports a Scan, PartSize, Concurrency, ReadConcurrency or
// MaxRejectRatio out of range.
func (cfg Config) checkOptions() error {
	if err := cfg.Scan.Check(); err != nil {
		return fmt.Errorf("the handler's Config.Scan: %w", err)
	}
	if err := (csvstream.WriterOptions{PartSize: cfg.PartSize, Concurrency: cfg.Concurrency}).Check(); err != nil {
		return fmt.Errorf("the handler's Config: %w", err)
	}
	if err := (csvstream.ReaderOptions{Concurrency: cfg.ReadConcurrency}).Check(); err != nil {
		return fmt.Errorf("the handler's Config: %w", err)
	}
	if r := cfg.MaxRejectRatio; r != nil && !(*r >= 0 && *r <= 1) {
		return fmt.Errorf("the handler's Config: MaxRejectRatio %v: want a number from 0 to 1", *r)
	}
	return nil
}

// withDefaults returns cfg with its zero fields filled in.
func (cfg Config) withDefaults() Config {
	// A prefix names a folder, as ParsePrefix makes it: "valid" would
	// name valida.csv, and sweep validation/ too.
	for _, p := range []*Prefix{&cfg.Output, &cfg.Rejects} {
		if p.Prefix != "" && !strings.HasSuffix(p.Prefix, "/") {
			p.Prefix += "/"
		}
	}
	if cfg.Rejects.IsZero() {
		cfg.Rejects = Prefix{Bucket: cfg.Output.Bucket, Prefix: DefaultRejectsPrefix}
	}
	if cfg.SweepOlderThan <= 0 {
		cfg.SweepOlderThan = csvstream.DefaultSweepAge
	}
	if cfg.DeadlineMargin <= 0 {
		cfg.DeadlineMargin = DefaultDeadlineMargin
	}
	return cfg
}
