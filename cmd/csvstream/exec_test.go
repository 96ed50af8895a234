package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// buildCLI builds the command into a temporary directory and returns its
// path.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "csvstream")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// startCLI starts cmd and returns a channel that gets its exit. A process
// still running when the test ends is killed.
func startCLI(t *testing.T, cmd *exec.Cmd) <-chan error {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	return exited
}

// startWithStdin starts cmd as startCLI does, with a pipe to its standard
// input, closed when the test ends, and its standard error gathered.
func startWithStdin(t *testing.T, cmd *exec.Cmd) (io.WriteCloser, *bytes.Buffer, <-chan error) {
	t.Helper()
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close() })
	return stdin, stderr, startCLI(t, cmd)
}

// TestSummaryNotInTheData runs jobs whose destination or rejects is
// standard output under another name: the summary must go to standard
// error, not into the data.
func TestSummaryNotInTheData(t *testing.T) {
	bin := buildCLI(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(src, []byte("a,b\n1,2\n3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	type summaryCase struct {
		name       string
		args       []string
		before     string // what the file standard output appends to holds
		wantStdout string
	}
	cases := []summaryCase{
		{"destination", []string{"run", "--rejects", filepath.Join(dir, "r.csv"), src, "/dev/stdout"}, "", "a,b\n1,2\n"},
		{"rejects", []string{"run", "--rejects", "/dev/fd/1", src, os.DevNull}, "",
			"line,record,error,field,message,raw\n3,2,missing-cell,b,missing cell: the row ends before column 2,3\n"},
		// Named by its descriptor, standard output is written as "-" is:
		// a file opened to append to (>>) is appended to, not replaced.
		{"appended destination", []string{"run", "--rejects", filepath.Join(dir, "r.csv"), src, "/dev/stdout"}, "earlier line\n", "earlier line\na,b\n1,2\n"},
		{"appended destination, spelt uncleaned", []string{"run", "--rejects", filepath.Join(dir, "r.csv"), src, "/dev/./stdout"}, "earlier line\n", "earlier line\na,b\n1,2\n"},
	}
	if runtime.GOOS == "linux" {
		cases = append(cases, summaryCase{"appended destination through /proc", []string{"run", "--rejects", filepath.Join(dir, "r.csv"), src, "/proc/self/fd/1"}, "earlier line\n", "earlier line\na,b\n1,2\n"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A file, as a shell redirection gives: the output and
			// standard output are then the same file.
			name := filepath.Join(t.TempDir(), "stdout")
			if err := os.WriteFile(name, []byte(tc.before), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			cmd := exec.Command(bin, tc.args...)
			cmd.Stdout = out
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v: %v\n%s", tc.args, err, stderr.String())
			}
			got, err := os.ReadFile(out.Name())
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.wantStdout {
				t.Errorf("stdout %q, want %q", got, tc.wantStdout)
			}
			if !strings.Contains(stderr.String(), `"rows": 2`) {
				t.Errorf("stderr %q, want the summary", stderr.String())
			}
		})
	}
}

// TestStdoutPathWithoutRejects checks that a destination naming standard
// output's descriptor, while standard output is a file, has no default
// rejects next to it, as with "-": /dev/stdout.rejects.csv would be made
// in /dev.
func TestStdoutPathWithoutRejects(t *testing.T) {
	bin := buildCLI(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(src, []byte("a,b\n1,2\n3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(bin, "run", src, "/dev/stdout")
	cmd.Stdout = out
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), "invalid job: destination /dev/stdout is standard output, so the rejects have no place next to it") {
		t.Errorf("exit %d (%v), stderr %q: want exit 1 and an invalid job asking for --rejects", code, err, stderr.String())
	}
}

// TestSourceAppendedToByStdout runs jobs whose standard output appends to
// the source (run in.csv - >> in.csv): each is refused, as it would read its
// own output back without end, and the source is left as it was.
func TestSourceAppendedToByStdout(t *testing.T) {
	bin := buildCLI(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "in.csv")
	const data = "a,b\n1,2\n3\n"
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"destination -", []string{"run", "--rejects", filepath.Join(dir, "r.csv"), src, "-"}, "invalid job: source " + src + " is the file standard output writes to"},
		{"rejects /dev/stdout", []string{"run", "--rejects", "/dev/stdout", src, filepath.Join(dir, "out.csv")}, "invalid job: source and rejects are both " + src},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(src, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := os.OpenFile(src, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tc.args...)
			cmd.Stdout = out
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err = cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d (%v), stderr %q: want exit 1 and an invalid job", code, err, stderr.String())
			}
			if got, _ := os.ReadFile(src); string(got) != data {
				t.Errorf("the source now holds %d bytes", len(got))
			}
		})
	}
}

// fileSizeLimit is the file size limit, in the shell's 512-byte blocks,
// under which runToFullFile runs a job: the first 256 KiB write of
// standard output fits, the second stops part way.
const fileSizeLimit = 600

// runToFullFile runs a job from a source of about 880 KB to standard
// output, which is out, under fileSizeLimit, a stand-in for a full disk.
// It checks that the job fails, and returns the source's bytes.
func runToFullFile(t *testing.T, out *os.File) string {
	t.Helper()
	bin := buildCLI(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "in.csv")
	data := idNameRows(20000, 37)
	if err := os.WriteFile(src, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", fmt.Sprintf(`ulimit -f %d && exec "$0" "$@"`, fileSizeLimit), bin, "run", "--rejects", filepath.Join(dir, "r.csv"), src, "-")
	cmd.Stdout = out
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("exit %d (%v), stderr %q; want 1", cmd.ProcessState.ExitCode(), err, stderr.String())
	}
	return data
}

// idNameRows returns a CSV of n rows under the header id,name: each row's
// id is its number, and its name width x's.
func idNameRows(n, width int) string {
	var b strings.Builder
	b.WriteString("id,name\n")
	for i := range n {
		fmt.Fprintf(&b, "%d,%s\n", i, strings.Repeat("x", width))
	}
	return b.String()
}

// TestFullStdoutFileEndsWithWholeRecord runs a job whose standard output
// is a file that fills up part way through a write: the job fails, and the
// file keeps only whole records.
func TestFullStdoutFileEndsWithWholeRecord(t *testing.T) {
	out, err := os.Create(filepath.Join(t.TempDir(), "out.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	src := runToFullFile(t, out)
	got, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || !strings.HasPrefix(src, string(got)) || got[len(got)-1] != '\n' {
		t.Errorf("standard output kept %d bytes, ending %q: want a run of whole records from the start", len(got), got[max(0, len(got)-20):])
	}
}

// TestFailedStdoutWriteKeepsBytesAfterIt runs a job whose standard output
// is a file opened without truncating it, whose write fails part way: the
// bytes past the write, which the job never wrote, stay.
func TestFailedStdoutWriteKeepsBytesAfterIt(t *testing.T) {
	old := bytes.Repeat([]byte("Z"), 1<<20)
	name := filepath.Join(t.TempDir(), "out.csv")
	if err := os.WriteFile(name, old, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(name, os.O_RDWR, 0) // as the shell's 1<>out.csv
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	runToFullFile(t, out)
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(old) || !bytes.Equal(got[fileSizeLimit*512:], old[fileSizeLimit*512:]) {
		t.Errorf("the file is %d bytes, was %d: the failed write cut off bytes it never wrote", len(got), len(old))
	}
}

// TestFlagErrorPrintedOnce runs the binary with flags the flag package
// refuses: the message comes once, from Main, not also from the flag
// package writing to the process's standard error itself.
func TestFlagErrorPrintedOnce(t *testing.T) {
	bin := buildCLI(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--nope", "in.csv", "out.csv"}, "flag provided but not defined: -nope"},
		{[]string{"infer", "--rows", "many", "in.csv"}, `invalid value "many" for flag -rows`},
		{[]string{"sweep", "--older-than", "soon", "s3://b/p/"}, `invalid value "soon" for flag -older-than`},
		{[]string{"invoke", "--timeout"}, "flag needs an argument: -timeout"},
	} {
		cmd := exec.Command(bin, tc.args...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != exitUsage || stdout.Len() != 0 || strings.Count(stderr.String(), tc.want) != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d and %q once on stderr", tc.args, code, stdout.String(), stderr.String(), exitUsage, tc.want)
		}
	}
}

// TestNewOutputModeFollowsUmask runs jobs under two umasks: a new output
// file gets 0666 less the umask, as any new file does, not a mode of its
// own.
func TestNewOutputModeFollowsUmask(t *testing.T) {
	bin := buildCLI(t)
	for _, tc := range []struct {
		umask string
		want  os.FileMode
	}{{"000", 0o666}, {"077", 0o600}} {
		t.Run(tc.umask, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "in.csv")
			if err := os.WriteFile(src, []byte("a,b\n1,2\n3\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(dir, "out.csv")
			cmd := exec.Command("sh", "-c", `umask "$0" && exec "$@"`, tc.umask, bin, "run", src, dst)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, name := range []string{dst, dst + ".rejects.csv"} {
				fi, err := os.Stat(name)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode() != tc.want {
					t.Errorf("%s: mode %v, want %v", name, fi.Mode(), tc.want)
				}
			}
		})
	}
}

// TestEmptyRejectsWithStdoutPath runs with an empty --rejects and a DST
// that is standard output under another name than -. Naming its descriptor,
// the message offers neither - nor the default rejects next to DST, which
// the job would refuse as both outputs on standard output, or as no place
// next to a device; naming the regular file standard output is redirected
// to, or a link to it, it offers the default, which works there.
func TestEmptyRejectsWithStdoutPath(t *testing.T) {
	bin := buildCLI(t)
	dir := t.TempDir()
	redirected, err := os.Create(filepath.Join(dir, "out.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer redirected.Close()
	if err := os.Symlink("out.csv", filepath.Join(dir, "link.csv")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dst    string
		stdout *os.File // nil for a pipe
		want   string
	}{
		{"/dev/stdout", nil, "DST is /dev/stdout, so give a path or s3:// URL for the rejects\n"},
		{"/dev/fd/1", nil, "DST is /dev/fd/1, so give a path or s3:// URL for the rejects\n"},
		{"/dev/stdout", redirected, "DST is /dev/stdout, so give a path or s3:// URL for the rejects\n"},
		{"out.csv", redirected, "DST out.csv is standard output's file, so give a path or s3:// URL, or leave the flag out to write DST.rejects.csv\n"},
		{"link.csv", redirected, "DST link.csv is standard output's file, so give a path or s3:// URL, or leave the flag out to write DST.rejects.csv\n"},
	} {
		cmd := exec.Command(bin, "run", "--rejects", "", "in.csv", tc.dst)
		cmd.Dir = dir
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if tc.stdout != nil {
			cmd.Stdout = tc.stdout
		}
		cmd.Run()
		want := "csvstream: --rejects is empty: " + tc.want
		if code := cmd.ProcessState.ExitCode(); code != exitUsage || !strings.HasPrefix(stderr.String(), want) {
			t.Errorf("DST %s, standard output %v: exit %d, stderr %q; want exit %d and a first line %q", tc.dst, tc.stdout != nil, code, stderr.String(), exitUsage, want)
		}
	}
}
