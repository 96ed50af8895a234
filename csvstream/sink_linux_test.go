package csvstream

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mountDirEnv names, in a child of TestRunRefusesMountPoint, the
// directory whose files the child mounts and runs jobs against.
const mountDirEnv = "CSVSTREAM_TEST_MOUNT_DIR"

// userNSNeeded says what TestRunRefusesMountPoint needs of the machine
// when it cannot have it.
const userNSNeeded = "TestRunRefusesMountPoint needs a mount namespace in which it may mount a file, and, for a user other than root, a user namespace: " +
	"a container under Docker's default seccomp profile has neither, and for a user other than root a machine where user.max_user_namespaces is 0, " +
	"kernel.unprivileged_userns_clone is 0 or kernel.apparmor_restrict_unprivileged_userns is 1 (Ubuntu 24.04's default) has no user namespace"

// TestRunRefusesMountPoint: an output that is a file mounted on its own
// (docker run -v $PWD/out.csv:/data/out.csv) cannot be replaced by a
// rename, so the job fails before it reads its input, saying so, and
// leaves the outputs as they were; one named by a descriptor open on it
// is written through the descriptor. The jobs run in a child process with
// a mount namespace (and, unless root, a user namespace) of its own, where
// it may mount files.
func TestRunRefusesMountPoint(t *testing.T) {
	if dir := os.Getenv(mountDirEnv); dir != "" {
		runAgainstMountPoints(t, dir)
		return
	}
	dir := t.TempDir()
	for name, text := range map[string]string{
		"host.csv": "the host's file\n", "out.csv": "under the mount\n",
		"rejects.csv": "earlier rejects\n", "valid.csv": "earlier rows\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("out.csv", filepath.Join(dir, "link.csv")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunRefusesMountPoint$", "-test.v")
	cmd.Env = append(os.Environ(), mountDirEnv+"="+dir)
	// Root needs only a mount namespace, whose mounts the runtime makes
	// private to the child; another user needs a user namespace too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	if os.Getuid() != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in namespaces of its own: %v\n%s\n%s", err, out, userNSNeeded)
	}
	if n := strings.Count(string(out), "refused: "); n != 3 {
		t.Fatalf("the child ran %d jobs, want 3:\n%s", n, out)
	}
	for name, want := range map[string]string{"out.csv": "under the mount\n", "rejects.csv": "earlier rejects\n", "valid.csv": "earlier rows\n"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); string(b) != want {
			t.Errorf("%s holds %q (%v), want %q", name, b, err, want)
		}
	}
}

// runAgainstMountPoints mounts host.csv on out.csv and runs a job with
// each of them as an output, then one writing to a descriptor open on the
// mount point.
func runAgainstMountPoints(t *testing.T, dir string) {
	host, out := filepath.Join(dir, "host.csv"), filepath.Join(dir, "out.csv")
	if err := syscall.Mount(host, out, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("mount %s on %s: %v\n%s", host, out, err, userNSNeeded)
	}
	cases := []struct {
		name, dst, rej string
		bad            string // the output named as a mount point
	}{
		{"destination", "out.csv", "rejects.csv", "destination: " + out},
		{"link to the destination", "link.csv", "rejects.csv", "destination: " + filepath.Join(dir, "link.csv")},
		{"rejects", "valid.csv", "out.csv", "rejects: " + out},
	}
	for _, tc := range cases {
		job := Job{
			Source: Stdio, Stdin: failReader{t},
			Destination: Location{Path: filepath.Join(dir, tc.dst)},
			Rejects:     Location{Path: filepath.Join(dir, tc.rej)},
		}
		_, err := Run(context.Background(), nil, job)
		want := fmt.Sprintf("%s is a mount point (a file mounted on its own, as docker run -v mounts one), which cannot be replaced: mount its directory instead", tc.bad)
		if !errors.Is(err, ErrInvalidJob) || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("%s: err %v, want ErrInvalidJob ending in %q", tc.name, err, want)
			continue
		}
		t.Logf("%s refused: %v", tc.name, err)
	}
	if b, err := os.ReadFile(out); string(b) != "the host's file\n" {
		t.Errorf("the mounted file holds %q (%v), want the host's file", b, err)
	}

	// A descriptor open on the mount point, as a shell's redirection
	// opens one (run - /dev/stdout >out.csv), is written through, not
	// replaced: it is no reason to refuse the job.
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const rows = "a,b\n1,2\n"
	job := Job{
		Source: Stdio, Stdin: strings.NewReader(rows),
		Destination: Location{Path: fmt.Sprintf("/dev/fd/%d", f.Fd())},
		Rejects:     Location{Path: filepath.Join(dir, "fd-rejects.csv")},
	}
	if _, err := Run(context.Background(), nil, job); err != nil {
		t.Errorf("destination /dev/fd/%d open on the mount point: %v", f.Fd(), err)
	}
	if b, err := os.ReadFile(out); string(b) != rows {
		t.Errorf("the mounted file holds %q (%v), want the rows written through the descriptor, %q", b, err, rows)
	}
}
