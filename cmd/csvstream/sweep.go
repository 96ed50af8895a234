package main

import (
	"context"
	"errors"
	"io"
	"path"
	"strings"

	"github.com/csvstream/csvstream/csvstream"
	"github.com/csvstream/csvstream/handler"
)

// sweepCmd aborts the abandoned multipart uploads under each prefix and
// prints what it aborted (or, with --dry-run, would abort) as JSON.
func sweepCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) (err error) {
	fs := newCommand("sweep", "csvstream sweep [--older-than 24h] [--dry-run] s3://bucket/prefix [more...]")
	defer func() { err = fs.withUsage(err) }()
	olderThan := fs.Duration("older-than", csvstream.DefaultSweepAge, "abort uploads initiated longer ago than this")
	dryRun := fs.Bool("dry-run", false, "list the uploads that would be aborted without aborting them")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("sweep needs at least one s3://bucket/prefix")
	}
	if *olderThan <= 0 {
		return usagef("--older-than %v: want a positive duration such as 24h", *olderThan)
	}
	// A prefix names a folder, as it does for the function: s3://b/valid
	// is valid/, so that it never takes in validation/ beside it.
	var places []handler.Prefix
	for _, arg := range fs.Args() {
		p, err := handler.ParsePrefix(arg)
		if err != nil {
			return usagef("%v", err)
		}
		places = append(places, p)
	}
	client, err := csvstream.NewS3Client(ctx)
	if err != nil {
		return err
	}
	// The function's shape, every upload listed: stdout has no size limit.
	results := []handler.SweepSummary{}
	var errs []error
	for i, pl := range places {
		res, err := csvstream.Sweep(ctx, client, pl.Bucket, pl.Prefix, csvstream.SweepOptions{OlderThan: *olderThan, DryRun: *dryRun})
		results = append(results, handler.SweepSummary{SweepResult: res, AbortedCount: len(res.Aborted)})
		if err != nil {
			errs = append(errs, err)
		}
		if arg := fs.Arg(i); err == nil && res.Seen == 0 && looksLikeObject(arg) {
			// Most likely the object a run wrote, named as its DST.
			folder := handler.Prefix{Bucket: pl.Bucket}
			if dir := path.Dir(strings.TrimSuffix(pl.Prefix, "/")); dir != "." {
				folder.Prefix = dir + "/"
			}
			notef(stderr, "no multipart uploads under %s: a prefix names a folder; if %s is an object, its uploads are under %s",
				pl, arg, folder)
		}
	}
	if err := writeJSON(stdout, results); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// looksLikeObject reports whether a sweep argument reads as an object's
// name rather than a folder's: it does not end in "/", and its last part
// has a file name extension, such as out.csv.
func looksLikeObject(arg string) bool {
	if strings.HasSuffix(arg, "/") {
		return false
	}
	_, rest, _ := strings.Cut(strings.TrimPrefix(arg, "s3://"), "/")
	return rest != "" && path.Ext(rest) != ""
}
