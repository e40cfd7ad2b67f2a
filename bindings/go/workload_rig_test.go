// SPDX-License-Identifier: LGPL-2.1-or-later

package edera_test

// Workloads from Go, in the rig: the test OCI image (tests/guest/mkoci.py:
// busybox, a user "edera", Entrypoint/Cmd/Env/WorkingDir/User set) run in
// zones booting the rig's Linux kernel and edera-zone-init.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"libedera.dev/edera"
)

func workloadConfig(t *testing.T, name string) edera.WorkloadConfig {
	t.Helper()
	kver, err := os.ReadFile(filepath.Join(env(t, "RIG_CACHE"), "kernel-version"))
	if err != nil {
		t.Fatalf("the rig's kernel version: %v", err)
	}
	_ = os.MkdirAll("/tmp/edera-wl-cache", 0o700)
	return edera.WorkloadConfig{Name: name, Image: env(t, "EDERA_WL_OCI"),
		CacheDir: "/tmp/edera-wl-cache", Kernel: linux(t),
		ModulesDir: filepath.Join(env(t, "RIG_CACHE"), "root/lib/modules", strings.TrimSpace(string(kver))),
		Init:       env(t, "EDERA_ZONE_INIT"), MemoryMiB: 192}
}

// readAll reads R to its end on a goroutine: the result comes on the channel.
func readAll(r io.Reader) <-chan []byte {
	ch := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		ch <- b
	}()
	return ch
}

// finish waits for the workload's zone to power off, then destroys it.
func finish(t *testing.T, goctx context.Context, w *edera.Workload) {
	t.Helper()
	select {
	case <-w.Zone().Exited():
	case <-goctx.Done():
		t.Errorf("%v did not power off after its workload ended", w.Zone())
	}
	if err := w.Zone().Destroy(goctx); err != nil {
		t.Errorf("Destroy: %v", err)
	}
}

// The image's defaults, then args, env, stdin through a held output, exec,
// a terminal, signals; nothing left behind.
func TestRigWorkload(t *testing.T) {
	rig(t)
	c := open(t)
	goctx := timeout(t, 15*time.Minute)
	handles := edera.HandleCount()

	// 1. the image's own command, user, directory and environment; the
	// image's conversion reported (once; a later run finds it cached)
	var mu sync.Mutex
	var steps []string
	cfg := workloadConfig(t, "go-wl-default")
	cfg.Progress = func(p edera.WorkloadProgress) {
		mu.Lock()
		steps = append(steps, p.Step)
		mu.Unlock()
	}
	w, err := c.RunWorkload(goctx, cfg)
	if err != nil {
		t.Fatalf("RunWorkload: %v", err)
	}
	out, errOut := readAll(w.Process().Stdout()), readAll(w.Process().Stderr())
	st, err := w.Process().Wait(goctx)
	if err != nil || st.Code != 0 || st.Signal != 0 {
		t.Errorf("the image's command ended with %v, %v; want exit code 0", st, err)
	}
	if got := string(<-out); got != "default command\nedera\n/home/edera\nyes\n" {
		t.Errorf("the image's command printed %q", got)
	}
	if got := <-errOut; len(got) != 0 {
		t.Errorf("stderr: %q", got)
	}
	finish(t, goctx, w)
	mu.Lock()
	t.Logf("conversion steps reported: %v", steps)
	mu.Unlock()

	// 2. args, env, cwd, user; 3 MiB through stdin and back while the
	// output buffer is 64 KiB and nobody reads for a while: the zone's
	// output is held (Buffered stays bounded, the writer waits: the zone
	// takes at most its 1 MiB stdin window, its pipes and queues), then
	// everything comes back byte-exact
	cfg = workloadConfig(t, "go-wl-cat")
	cfg.OutputBuffer = 64 << 10
	cfg.Process = edera.ProcessConfig{
		Args: []string{"/bin/sh", "-c", "cat; echo $OVERRIDDEN $FROM_IMAGE $(id -u) $(pwd) >&2; exit 7"},
		Env:  []string{"OVERRIDDEN=caller"}, Cwd: "/tmp", User: "root"}
	w, err = c.RunWorkload(goctx, cfg)
	if err != nil {
		t.Fatalf("RunWorkload (cat): %v", err)
	}
	p := w.Process()
	in := make([]byte, 3<<20)
	for i := range in {
		in[i] = byte(i*7 + i>>11)
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := p.WriteContext(goctx, in)
		if err == nil {
			err = p.CloseStdin(goctx)
		}
		wrote <- err
	}()
	time.Sleep(5 * time.Second)
	if b := w.Buffered(); b > 64<<10+edera.ChannelFrameMax {
		t.Errorf("%d bytes of output buffered with OutputBuffer 64 KiB: not held", b)
	}
	var writeErr error
	written := false
	select {
	case writeErr = <-wrote:
		written = true
		t.Errorf("3 MiB written while no output was read (%v): nothing held the zone "+
			"(%d bytes buffered)", writeErr, w.Buffered())
	default:
	}
	out, errOut = readAll(p.Stdout()), readAll(p.Stderr())
	if !written {
		select {
		case writeErr = <-wrote:
		case <-goctx.Done():
			t.Fatalf("the 3 MiB write never finished (%d bytes buffered)", w.Buffered())
		}
	}
	if writeErr != nil {
		t.Errorf("Write/CloseStdin: %v", writeErr)
	}
	if got := <-out; !bytes.Equal(got, in) {
		t.Errorf("stdin came back as %d bytes, not the 3 MiB written", len(got))
	}
	if got := string(<-errOut); got != "caller yes 0 /tmp\n" {
		t.Errorf("stderr %q, want the overrides: \"caller yes 0 /tmp\\n\"", got)
	}
	if st, err := p.Wait(goctx); err != nil || st.Code != 7 || st.ExitCode() != 7 {
		t.Errorf("cat ended with %v, %v; want exit code 7", st, err)
	}
	if b := w.Buffered(); b != 0 {
		t.Errorf("%d bytes still counted as buffered after everything was read", b)
	}
	finish(t, goctx, w)

	// 3. exec beside a running workload: its output and code, a terminal,
	// a refusal; then a signal to the workload
	cfg = workloadConfig(t, "go-wl-exec")
	cfg.Process = edera.ProcessConfig{Args: []string{"/bin/sleep", "600"}}
	w, err = c.RunWorkload(goctx, cfg)
	if err != nil {
		t.Fatalf("RunWorkload (sleep): %v", err)
	}
	e, err := w.Exec(goctx, edera.ProcessConfig{Args: []string{"/bin/sh", "-c", "echo exec $(id -un); exit 3"}})
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	out = readAll(e.Stdout())
	if st, err := e.Wait(goctx); err != nil || st.Code != 3 {
		t.Errorf("the exec ended with %v, %v; want exit code 3", st, err)
	}
	if got := string(<-out); got != "exec edera\n" {
		t.Errorf("the exec printed %q, want \"exec edera\\n\" (the image's user)", got)
	}
	tty, err := w.Exec(goctx, edera.ProcessConfig{Args: []string{"/bin/sh", "-c", "tty; stty size"},
		Terminal: true, Rows: 33, Cols: 99})
	if err != nil {
		t.Fatalf("Exec (terminal): %v", err)
	}
	out = readAll(tty.Stdout())
	if st, err := tty.Wait(goctx); err != nil || st.Code != 0 {
		t.Errorf("the terminal exec ended with %v, %v", st, err)
	}
	if got := string(<-out); !strings.Contains(got, "/dev/pts/") || !strings.Contains(got, "33 99") {
		t.Errorf("on a terminal, tty and stty size printed %q", got)
	}
	bad, err := w.Exec(goctx, edera.ProcessConfig{Args: []string{"/no/such/command"}})
	if err != nil {
		t.Fatalf("Exec (missing command): %v", err)
	}
	if _, err := bad.Wait(goctx); !errors.Is(err, edera.ErrNotFound) {
		t.Errorf("an exec of a missing command: %v, want ErrNotFound", err)
	} else {
		t.Logf("an exec of a missing command: %v", err)
	}
	if _, err := w.Exec(goctx, edera.ProcessConfig{}); !errors.Is(err, edera.ErrInvalid) {
		t.Errorf("an exec without Args: %v, want ErrInvalid", err)
	}
	if err := w.Process().Kill(goctx, syscall.SIGTERM); err != nil {
		t.Errorf("Kill: %v", err)
	}
	st, err = w.Process().Wait(goctx)
	if err != nil || st.Signal != syscall.SIGTERM || st.ExitCode() != 128+int(syscall.SIGTERM) {
		t.Errorf("sleep after SIGTERM: %v, %v; want killed by SIGTERM (143)", st, err)
	}
	if err := w.Process().Kill(goctx, syscall.SIGTERM); !errors.Is(err, edera.ErrInvalid) {
		t.Errorf("Kill after the end: %v, want ErrInvalid", err)
	}
	finish(t, goctx, w)
	if _, err := w.Process().Pid(goctx); !errors.Is(err, edera.ErrGone) {
		t.Errorf("Pid after Destroy: %v, want ErrGone", err)
	}

	// 4. destroyed while its process runs: Wait says the zone stopped
	// without reporting its end; its output ends (what came was read)
	cfg = workloadConfig(t, "go-wl-destroyed")
	cfg.Process = edera.ProcessConfig{Args: []string{"/bin/sleep", "600"}}
	w, err = c.RunWorkload(goctx, cfg)
	if err != nil {
		t.Fatalf("RunWorkload (sleep 2): %v", err)
	}
	if err := w.Zone().Destroy(goctx); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if _, err := w.Process().Wait(goctx); !errors.Is(err, edera.ErrNotConnected) {
		t.Errorf("Wait after Destroy: %v, want ErrNotConnected", err)
	}
	if _, err := io.ReadAll(w.Process().Stdout()); err != nil {
		t.Errorf("Stdout after Destroy: %v, want its end", err)
	}

	// 5. bad input: clear errors, no zone left
	cfg = workloadConfig(t, "go-wl-missing")
	cfg.Image = "/no/such/image"
	if _, err := c.RunWorkload(goctx, cfg); !errors.Is(err, edera.ErrNotFound) ||
		!strings.Contains(err.Error(), "/no/such/image") {
		t.Errorf("a missing image: %v, want ErrNotFound naming it", err)
	}
	cfg = workloadConfig(t, "go-wl-user")
	cfg.Process = edera.ProcessConfig{Args: []string{"/bin/true"}, User: "nobody-here"}
	if _, err := c.RunWorkload(goctx, cfg); !errors.Is(err, edera.ErrInvalid) ||
		!strings.Contains(err.Error(), "nobody-here") {
		t.Errorf("an unknown user: %v, want ErrInvalid naming it", err)
	}
	for _, d := range domains(t) {
		if strings.HasPrefix(d, "go-wl-") {
			t.Errorf("domain %s left behind", d)
		}
	}
	c.Close()
	if n := edera.HandleCount(); n != handles-1 {
		t.Errorf("%d callback handles held after Close, %d before the test's Context", n, handles)
	}
}

// A run abandoned by its caller (its context cancelled while the zone
// boots) leaves no zone.
func TestRigWorkloadCancelled(t *testing.T) {
	rig(t)
	c := open(t)
	goctx := timeout(t, 5*time.Minute)
	cfg := workloadConfig(t, "go-wl-cancelled")
	cfg.Process = edera.ProcessConfig{Args: []string{"/bin/sleep", "600"}}
	short, cancel := context.WithTimeout(goctx, 500*time.Millisecond)
	defer cancel()
	if _, err := c.RunWorkload(short, cfg); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RunWorkload with 0.5 s to run: %v, want context.DeadlineExceeded", err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		left := false
		for _, d := range domains(t) {
			left = left || d == "go-wl-cancelled"
		}
		if !left {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the abandoned workload's zone is still there after 3 minutes")
		}
		time.Sleep(time.Second)
	}
	zs, err := c.Zones(goctx)
	if err != nil {
		t.Fatalf("Zones: %v", err)
	}
	for _, z := range zs {
		if z.Name() == "go-wl-cancelled" {
			t.Errorf("the abandoned zone is still in Zones")
		}
	}
}

// A spare zone booted by this Context is taken by the next run of the same
// kernel, modules, memory and vCPUs (the same domain, renamed); the run
// after it, with none left, boots its own.
func TestRigSpare(t *testing.T) {
	rig(t)
	c := open(t)
	goctx := timeout(t, 10*time.Minute)

	cfg := workloadConfig(t, "")
	spare, err := c.Spare(goctx, cfg)
	if err != nil {
		t.Fatalf("Spare: %v", err)
	}
	if !strings.HasPrefix(spare.Name(), "edera-spare-") {
		t.Errorf("the spare's name %q", spare.Name())
	}
	for i, name := range []string{"go-from-spare", "go-no-spare-left"} {
		cfg := workloadConfig(t, name)
		cfg.Process.Args = []string{"/bin/sh", "-c", "hostname"}
		w, err := c.RunWorkload(goctx, cfg)
		if err != nil {
			t.Fatalf("RunWorkload %s: %v", name, err)
		}
		out := readAll(w.Process().Stdout())
		if st, err := w.Process().Wait(goctx); err != nil || st.Code != 0 {
			t.Errorf("%s ended with %v, %v", name, st, err)
		}
		if got := string(<-out); got != name+"\n" {
			t.Errorf("%s: hostname printed %q", name, got)
		}
		if took := w.Zone() == spare; took != (i == 0) {
			t.Errorf("%s: took the spare: %v", name, took)
		}
		if w.Zone().Name() != name {
			t.Errorf("%s: the zone is named %q", name, w.Zone().Name())
		}
		finish(t, goctx, w)
	}
}
