// SPDX-License-Identifier: LGPL-2.1-or-later

package edera_test

// The example controller (examples/controller) against real zones: the
// binary make builds, given by EDERA_GO_CONTROLLER (make check-go-rig sets
// it), run as a separate process and watched through its JSON events.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"libedera.dev/edera"
)

// ctlEvent is one event line of the controller.
type ctlEvent struct {
	Time     string `json:"time"`
	Event    string `json:"event"`
	Zone     string `json:"zone"`
	Domid    uint32 `json:"domid"`
	Reason   string `json:"reason"`
	Error    string `json:"error"`
	Backoff  string `json:"backoff"`
	Attached *int   `json:"attached"`
	Cleaned  *int   `json:"cleaned"`

	line string // as printed
}

// ctlEvents are the events the controller documents.
var ctlEvents = map[string]bool{"started": true, "spec-loaded": true, "spec-error": true,
	"reattached": true, "created": true, "create-failed": true, "exited": true,
	"restarting": true, "destroyed": true, "destroy-failed": true, "stopping": true,
	"stopped": true}

// ctlBuffer is a bytes.Buffer for the controller's stderr, written by
// exec's copying goroutine and read by the test.
type ctlBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *ctlBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *ctlBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// ctlRun is one run of the controller.
type ctlRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	events chan ctlEvent // its stdout, parsed; closed at its end
	seen   []ctlEvent    // the events the test has taken from events
	stderr ctlBuffer
	ended  chan struct{} // closed once it has exited (and err is set)
	err    error         // what Wait said
}

// startController runs BIN -spec SPEC; a cleanup kills it if it still runs
// when the test ends.
func ctlStart(t *testing.T, bin, spec string) *ctlRun {
	t.Helper()
	r := &ctlRun{t: t, events: make(chan ctlEvent, 1024), ended: make(chan struct{}),
		cmd: exec.Command(bin, "-spec", spec, "-interval", "200ms", "-backoff-max", "4s")}
	r.cmd.Stderr = &r.stderr
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("starting the controller %s: %v", bin, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var ev ctlEvent
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				ev = ctlEvent{Event: "not JSON: " + err.Error()}
			}
			ev.line = sc.Text()
			r.events <- ev
		}
		close(r.events)
		r.err = r.cmd.Wait() // once stdout is read to its end
		close(r.ended)
	}()
	t.Cleanup(r.kill)
	return r
}

// kill ends the controller if it still runs (SIGKILL: its zones are left;
// the test's cleanup destroys them).
func (r *ctlRun) kill() {
	select {
	case <-r.ended:
		return
	default:
	}
	_ = r.cmd.Process.Kill()
	for range r.events {
	}
	<-r.ended
}

// dump is what a failure shows: the events seen and stderr.
func (r *ctlRun) dump() string {
	var b strings.Builder
	for _, ev := range r.seen {
		b.WriteString("\n\t" + ev.line)
	}
	if s := r.stderr.String(); s != "" {
		b.WriteString("\nstderr:\n" + s)
	}
	return b.String()
}

// take records EV, checking its form.
func (r *ctlRun) take(ev ctlEvent) {
	r.t.Helper()
	r.seen = append(r.seen, ev)
	if _, err := time.Parse(time.RFC3339Nano, ev.Time); err != nil || !ctlEvents[ev.Event] {
		r.t.Fatalf("a bad event line (time %q: %v; event %q): %s%s", ev.Time, err, ev.Event,
			ev.line, r.dump())
	}
}

// find gives the index of the first event from FROM on that MATCH accepts,
// or -1.
func (r *ctlRun) find(from int, match func(ctlEvent) bool) int {
	for i := from; i < len(r.seen); i++ {
		if match(r.seen[i]) {
			return i
		}
	}
	return -1
}

// wait gives the index of the first event from FROM on that MATCH accepts,
// waiting up to D for it.
func (r *ctlRun) wait(from int, what string, match func(ctlEvent) bool, d time.Duration) int {
	r.t.Helper()
	if i := r.find(from, match); i >= 0 {
		return i
	}
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		select {
		case ev, ok := <-r.events:
			if !ok {
				<-r.ended
				r.t.Fatalf("the controller ended (%v) before %s; events:%s", r.err, what, r.dump())
			}
			r.take(ev)
			if match(ev) {
				return len(r.seen) - 1
			}
		case <-deadline.C:
			r.t.Fatalf("no %s within %v; events:%s", what, d, r.dump())
		}
	}
}

// stop sends SIGTERM and expects a clean end: exit status 0, the last
// events stopping and stopped without an error.
func (r *ctlRun) stop() {
	r.t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		r.t.Fatalf("SIGTERM: %v", err)
	}
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	for done := false; !done; {
		select {
		case ev, ok := <-r.events:
			if !ok {
				done = true
				continue
			}
			r.take(ev)
		case <-deadline.C:
			r.t.Fatalf("the controller did not end within 2 min of SIGTERM; events:%s", r.dump())
		}
	}
	<-r.ended
	if r.err != nil {
		r.t.Fatalf("the controller ended with %v after SIGTERM, want exit status 0; events:%s",
			r.err, r.dump())
	}
	n := len(r.seen)
	if n < 2 || r.seen[n-2].Event != "stopping" || r.seen[n-1].Event != "stopped" ||
		r.seen[n-1].Error != "" {
		r.t.Fatalf("the last events are not stopping, stopped (without error); events:%s", r.dump())
	}
}

// is matches the event EVENT of zone ZONE ("" for none).
func ctlIs(event, zone string) func(ctlEvent) bool {
	return func(ev ctlEvent) bool { return ev.Event == event && ev.Zone == zone }
}

// ctlZone is a zone of a controller spec.
type ctlZone struct {
	Name      string `json:"name"`
	Kernel    string `json:"kernel"`
	Cmdline   string `json:"cmdline"`
	MemoryMiB uint64 `json:"memory_mib"`
}

// writeSpec replaces the spec file PATH with one of ZONES, in one step (a
// rename), so the controller never reads half of it.
func ctlWriteSpec(t *testing.T, path string, zones ...ctlZone) {
	t.Helper()
	if zones == nil {
		zones = []ctlZone{}
	}
	b, err := json.MarshalIndent(map[string][]ctlZone{"zones": zones}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// destroyControllerZones destroys the go-ctl-* zones a failed run left,
// taking them over first (with Reattach, which takes over all the zones
// libedera left on the host: the others are left running).
func ctlDestroyZones(t *testing.T) {
	c, err := edera.Open(edera.Options{})
	if err != nil {
		t.Errorf("cleanup: Open: %v", err)
		return
	}
	defer c.Close()
	goctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, _, err := c.Reattach(goctx); err != nil {
		t.Errorf("cleanup: Reattach: %v", err)
	}
	zs, err := c.Zones(goctx)
	if err != nil {
		t.Errorf("cleanup: Zones: %v", err)
		return
	}
	for _, z := range zs {
		if strings.HasPrefix(z.Name(), "go-ctl-") {
			if err := z.Destroy(goctx); err != nil {
				t.Errorf("cleanup: destroying %v: %v", z, err)
			}
		}
	}
}

func TestRigControllerConverges(t *testing.T) {
	rig(t)
	bin := os.Getenv("EDERA_GO_CONTROLLER")
	if bin == "" {
		t.Fatal("EDERA_GO_CONTROLLER is not set: the controller binary to test (make check-go-rig sets it)")
	}
	kernel := env(t, "EDERA_MINI_KERNEL")
	ctlDestroyZones(t) // what an earlier, failed run may have left
	// registered first, so it runs last: after the controllers are killed
	t.Cleanup(func() { ctlDestroyZones(t) })
	a := ctlZone{Name: "go-ctl-a", Kernel: kernel, Cmdline: "reason=wait", MemoryMiB: 16}
	b := ctlZone{Name: "go-ctl-b", Kernel: kernel, Cmdline: "reason=wait", MemoryMiB: 16}
	c := ctlZone{Name: "go-ctl-c", Kernel: kernel, Cmdline: "reason=crash", MemoryMiB: 16}
	spec := filepath.Join(t.TempDir(), "zones.json")

	// It creates what is missing.
	ctlWriteSpec(t, spec, a, b)
	r := ctlStart(t, bin, spec)
	ia := r.wait(0, "created go-ctl-a", ctlIs("created", "go-ctl-a"), 2*time.Minute)
	r.wait(0, "created go-ctl-b", ctlIs("created", "go-ctl-b"), 2*time.Minute)
	domidA := r.seen[ia].Domid
	for _, name := range []string{"go-ctl-a", "go-ctl-b"} {
		if !hasDomain(t, name) {
			t.Fatalf("no domain %s: %v; events:%s", name, domains(t), r.dump())
		}
	}

	// It destroys what left the spec, and creates again, with a growing
	// back-off, what stops on its own.
	mark := len(r.seen)
	ctlWriteSpec(t, spec, a, c)
	r.wait(mark, "destroyed go-ctl-b", ctlIs("destroyed", "go-ctl-b"), time.Minute)
	noDomainLeft(t, "go-ctl-b")
	crashed := func(ev ctlEvent) bool {
		return ev.Event == "exited" && ev.Zone == "go-ctl-c" && ev.Reason == "crash"
	}
	ie := r.wait(mark, "exited go-ctl-c (crash)", crashed, 2*time.Minute)
	ir := r.wait(ie, "restarting go-ctl-c", ctlIs("restarting", "go-ctl-c"), time.Minute)
	ie = r.wait(ir, "exited go-ctl-c (crash) again", crashed, 2*time.Minute)
	ir2 := r.wait(ie, "restarting go-ctl-c again", ctlIs("restarting", "go-ctl-c"), time.Minute)
	if b1, b2 := r.seen[ir].Backoff, r.seen[ir2].Backoff; b1 != "1s" || b2 != "2s" {
		t.Fatalf("back-offs %q then %q, want 1s then 2s; events:%s", b1, b2, r.dump())
	}

	// SIGTERM stops it, leaving its zones running.
	r.stop()
	for _, ev := range r.seen {
		if ev.Zone == "go-ctl-a" && ev.Event != "created" {
			t.Fatalf("go-ctl-a, never changed, was touched: %s; events:%s", ev.line, r.dump())
		}
	}
	if !hasDomain(t, "go-ctl-a") {
		t.Fatalf("go-ctl-a did not outlive the controller: %v", domains(t))
	}

	// The next run takes go-ctl-a over, and keeps it as it is.
	ctlWriteSpec(t, spec, a)
	r = ctlStart(t, bin, spec)
	i := r.wait(0, "reattached (the counts)", func(ev ctlEvent) bool {
		return ev.Event == "reattached" && ev.Attached != nil
	}, 2*time.Minute)
	if *r.seen[i].Attached < 1 {
		t.Fatalf("attached %d, want at least go-ctl-a; events:%s", *r.seen[i].Attached, r.dump())
	}
	i = r.wait(i, "reattached go-ctl-a", ctlIs("reattached", "go-ctl-a"), time.Minute)
	if r.seen[i].Domid != domidA {
		t.Fatalf("took over domain %d as go-ctl-a, created as %d; events:%s", r.seen[i].Domid,
			domidA, r.dump())
	}
	// the loop has reconciled once before it handles a signal: after the
	// spec-loaded of SIGHUP, a wrong re-creation would show
	mark = len(r.seen)
	if err := r.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	r.wait(mark, "spec-loaded after SIGHUP", ctlIs("spec-loaded", ""), time.Minute)

	// An empty spec: it destroys go-ctl-a.
	mark = len(r.seen)
	ctlWriteSpec(t, spec)
	i = r.wait(mark, "destroyed go-ctl-a", ctlIs("destroyed", "go-ctl-a"), time.Minute)
	if r.seen[i].Domid != domidA {
		t.Fatalf("destroyed domain %d as go-ctl-a, want %d; events:%s", r.seen[i].Domid, domidA,
			r.dump())
	}
	if j := r.find(0, ctlIs("created", "go-ctl-a")); j >= 0 {
		t.Fatalf("go-ctl-a was created again rather than taken over: %s; events:%s",
			r.seen[j].line, r.dump())
	}
	r.stop()
	noDomainLeft(t, "go-ctl-")
	t.Logf("events of the last run:%s", r.dump())
}
