// SPDX-License-Identifier: LGPL-2.1-or-later

// Command controller is an example of the Go bindings: a small reconciling
// controller that keeps the zones a JSON file describes running.
//
//	controller -spec FILE [-interval 1s] [-backoff-max 30s]
//
// # The spec file
//
//	{"zones": [
//	  {"name": "web-1", "kernel": "/boot/vmlinuz", "initrd": "/boot/web.cpio.gz",
//	   "cmdline": "console=hvc0", "memory_mib": 256, "vcpus": 1}
//	]}
//
// "zones" is required ({"zones": []} for none).  In each zone "name" and
// "kernel" are required and names are unique; "initrd" and "cmdline" may be
// left out; "memory_mib" and "vcpus" left out (or 0) take the library's
// defaults (256 MiB, 1 vCPU).  Any other field is an error.  zones.json,
// next to this file, is an example (its paths are placeholders).
//
// The file is read at the start (a bad one then ends the run), again
// whenever its modification time, size or inode changes (looked at every
// -interval; replace it by a rename to change it in one step), and on
// SIGHUP.  A bad file read later is reported (spec-error) and the last good
// one is kept.
//
// # What it does
//
// At the start it opens a libedera context and takes over, with Reattach,
// the zones libedera left running on this host (a previous run's: stopping
// the controller leaves its zones running).  Then it reconciles, on one
// goroutine, the zones of its context with the spec:
//
//   - a zone of the spec that is not running is created;
//   - a zone of the context whose name is not in the spec is destroyed —
//     this includes every zone Reattach took over that the spec does not
//     name, whoever created it;
//   - a zone that stops on its own (poweroff, crash, reboot, destroyed by
//     someone else...) has its handle freed (Destroy) and is created again
//     after a back-off: 1 s, then twice the previous one, at most
//     -backoff-max; it starts again from 1 s once a zone has run 30 s.  A
//     creation that fails is retried with the same back-off;
//   - a zone whose spec changed (kernel, initrd, cmdline, memory_mib or
//     vcpus) is destroyed and created again, at once.  A zone taken over
//     by Reattach was created with a spec this run does not know: it is
//     kept as it is (the reattached event says so) until it stops or
//     leaves the spec.
//
// SIGINT or SIGTERM stops it: creations under way are cancelled (their
// domains are destroyed when they complete; a creation the context's close
// cut short leaves XenStore nodes the next run's Reattach removes), the
// context is closed and the zones
// are left running for the next run to take over.
//
// # Events
//
// Everything it does is logged on stdout as JSON, one object per line, with
// "time" (RFC 3339, UTC) and "event", and where they apply "zone",
// "domid", "reason", "error", "backoff", "ran" (how long a zone ran, since
// it was taken over for one Reattach gave), "attached", "cleaned", "file",
// "zones", "count", "message":
//
//	started         the flags, the library's version, the pid
//	spec-loaded     file, count, zones: a good spec was read
//	spec-error      file, error: a bad one (the previous one is kept)
//	reattached      attached, cleaned: what Reattach took over and cleaned
//	                up; then one per zone taken over, with zone, domid and
//	                message (kept as it is, or to be destroyed)
//	created         zone, domid
//	create-failed   zone, error, backoff (the wait before the next try)
//	exited          zone, domid, reason (poweroff, crash, ...), ran
//	restarting      zone, reason, backoff: it will be created again then
//	destroyed       zone, domid, reason ("not in the spec", "spec
//	                changed", "exited": the handle of a stopped zone freed)
//	destroy-failed  zone, domid, error (retried 5 s later)
//	stopping        reason (the signal)
//	stopped         zones (left running); with error if the run failed
//
// # Exit status
//
// 0 when stopped by SIGINT or SIGTERM, 1 when the run failed (a bad spec at
// the start, Open or Reattach failed: the stopped event's error says why,
// as does stderr), 2 for bad usage.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"time"

	"libedera.dev/edera"
)

const (
	createTimeout  = 5 * time.Minute  // CreateZone
	destroyTimeout = time.Minute      // Destroy
	attachTimeout  = 2 * time.Minute  // Reattach and Zones at the start
	backoffFirst   = time.Second      // the first back-off
	backoffReset   = 30 * time.Second // a zone that ran this long starts again from backoffFirst
	destroyRetry   = 5 * time.Second  // the wait after a failed Destroy
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// ---- the spec ------------------------------------------------------------

// zoneSpec is one zone of the spec file.  It is comparable: two specs are
// the same zone when they are ==.
type zoneSpec struct {
	Name      string `json:"name"`
	Kernel    string `json:"kernel"`
	Initrd    string `json:"initrd"`
	Cmdline   string `json:"cmdline"`
	MemoryMiB uint64 `json:"memory_mib"`
	VCPUs     uint32 `json:"vcpus"`
}

func (s zoneSpec) config() edera.ZoneConfig {
	return edera.ZoneConfig{Name: s.Name, Kernel: s.Kernel, Initrd: s.Initrd,
		Cmdline: s.Cmdline, MemoryMiB: s.MemoryMiB, VCPUs: s.VCPUs}
}

// spec is a good spec file: its zones by name, and the names in the file's
// order.
type spec struct {
	names []string
	zones map[string]zoneSpec
}

// parseSpec parses and checks the spec file FILE's DATA.  The error names
// the file and, for a bad zone, which one.
func parseSpec(file string, data []byte) (*spec, error) {
	var doc struct {
		Zones *[]zoneSpec `json:"zones"`
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] != '{' {
		return nil, fmt.Errorf(`spec %s: not a JSON object ({"zones": [...]})`, file)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("spec %s: the file is empty", file)
		}
		return nil, fmt.Errorf("spec %s: %v", file, err)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, fmt.Errorf("spec %s: something follows the JSON object", file)
	}
	if doc.Zones == nil {
		return nil, fmt.Errorf(`spec %s: no "zones" list (write {"zones": []} for no zone)`, file)
	}
	s := &spec{zones: map[string]zoneSpec{}}
	index := map[string]int{}
	for i, z := range *doc.Zones {
		switch {
		case z.Name == "":
			return nil, fmt.Errorf(`spec %s: zones[%d]: "name" is missing or empty`, file, i)
		case z.Kernel == "":
			return nil, fmt.Errorf(`spec %s: zones[%d] (%s): "kernel" is missing or empty`, file, i, z.Name)
		}
		if j, dup := index[z.Name]; dup {
			return nil, fmt.Errorf("spec %s: zones[%d] and zones[%d] are both named %q", file, j, i, z.Name)
		}
		cfg := z.config()
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("spec %s: zones[%d] (%s): %v", file, i, z.Name, err)
		}
		index[z.Name] = i
		s.names = append(s.names, z.Name)
		s.zones[z.Name] = z
	}
	return s, nil
}

// fileSig is what says that the spec file changed.
type fileSig struct {
	modNs    int64
	size     int64
	dev, ino uint64
	err      string // the stat error, if any
}

func statSig(path string) fileSig {
	fi, err := os.Stat(path)
	if err != nil {
		return fileSig{err: err.Error()}
	}
	s := fileSig{modNs: fi.ModTime().UnixNano(), size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.dev, s.ino = uint64(st.Dev), st.Ino
	}
	return s
}

// ---- events --------------------------------------------------------------

// event is one line of the log.  Fields left zero are left out.
type event struct {
	Time       string   `json:"time"`
	Event      string   `json:"event"`
	Zone       string   `json:"zone,omitempty"`
	Domid      uint32   `json:"domid,omitempty"`
	Reason     string   `json:"reason,omitempty"`
	Error      string   `json:"error,omitempty"`
	Backoff    string   `json:"backoff,omitempty"`
	Ran        string   `json:"ran,omitempty"`
	Attached   *int     `json:"attached,omitempty"`
	Cleaned    *int     `json:"cleaned,omitempty"`
	File       string   `json:"file,omitempty"`
	Count      *int     `json:"count,omitempty"`
	Zones      []string `json:"zones,omitempty"`
	Message    string   `json:"message,omitempty"`
	PID        int      `json:"pid,omitempty"`
	Version    string   `json:"version,omitempty"`
	Interval   string   `json:"interval,omitempty"`
	BackoffMax string   `json:"backoff_max,omitempty"`
}

func intp(n int) *int { return &n }

// logger writes events, one JSON object per line, each with one Write (the
// writer is unbuffered: os.Stdout).
type logger struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func newLogger(w io.Writer) *logger {
	return &logger{enc: json.NewEncoder(w)}
}

func (l *logger) log(e event) {
	e.Time = time.Now().UTC().Format(time.RFC3339Nano)
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.enc.Encode(e) // nothing to do if stdout is gone
}

// ---- the controller ------------------------------------------------------

// managed is the controller's state of one zone name: a zone of the context
// (running, or stopped with its handle still to free), a creation under
// way, or a zone of the spec waiting for its back-off.
type managed struct {
	name string

	zone   *edera.Zone
	spec   *zoneSpec     // what zone was created with; nil: taken over, unknown
	since  time.Time     // when zone was created or taken over
	exited bool          // zone stopped on its own; its handle is still to free
	stop   chan struct{} // closed to end zone's watcher

	creating context.CancelFunc // non-nil while a creation is under way

	want    zoneSpec      // the desired spec the back-off below is for
	hasWant bool          // want is set
	backoff time.Duration // the last back-off (0: none yet)
	retryAt time.Time     // no create or destroy before then
}

// nextBackoff doubles the back-off (from backoffFirst, at most MAX).
func (m *managed) nextBackoff(max time.Duration) time.Duration {
	switch {
	case m.backoff == 0:
		m.backoff = backoffFirst
	case m.backoff > max/2:
		m.backoff = max
	default:
		m.backoff *= 2
	}
	if m.backoff > max {
		m.backoff = max
	}
	return m.backoff
}

// createResult is what a creation goroutine sends to the loop.
type createResult struct {
	name string
	spec zoneSpec
	zone *edera.Zone
	err  error
}

// controller is the reconcile loop's state.  The channels, out and ec
// (whose methods are safe from any goroutine) are shared with the
// watchers and creation goroutines; everything else belongs to the loop
// goroutine (and to run, before the loop starts and after it ends).
type controller struct {
	ec         *edera.Context
	file       string
	interval   time.Duration
	backoffMax time.Duration
	out        *logger

	sig   fileSig // of the spec file when last read
	spec  *spec   // the last good spec
	zones map[string]*managed

	exits   chan *edera.Zone  // from the zones' watchers: this zone stopped
	results chan createResult // from the creation goroutines
	quit    chan struct{}     // closed when stopping: goroutines send nothing more
	wg      sync.WaitGroup    // the watchers and creation goroutines
	signals <-chan os.Signal  // SIGINT, SIGTERM, SIGHUP
	stopSig os.Signal         // the signal that stopped the loop
}

// loadSpec reads the spec file if it changed since it was last read (or
// always, if FORCE), keeping the last good spec if it is bad.  It returns
// the error of a bad spec (nil if unchanged or good).
func (c *controller) loadSpec(force bool) error {
	sig := statSig(c.file) // before reading: a change after it is seen next time
	if !force && sig == c.sig {
		return nil
	}
	c.sig = sig
	data, err := os.ReadFile(c.file)
	var s *spec
	if err == nil {
		s, err = parseSpec(c.file, data)
	} else {
		err = fmt.Errorf("spec: %v", err) // the error names the file
	}
	if err != nil {
		msg := "the previous spec is kept"
		if c.spec == nil {
			msg = "no spec to run with"
		}
		c.out.log(event{Event: "spec-error", File: c.file, Error: err.Error(), Message: msg})
		return err
	}
	c.spec = s
	c.out.log(event{Event: "spec-loaded", File: c.file, Count: intp(len(s.names)), Zones: s.names})
	return nil
}

// watch starts the watcher of M's zone: it tells the loop when the zone
// stops on its own, unless M.stop is closed first (the zone destroyed, or
// the controller stopping).
func (c *controller) watch(m *managed) {
	z, stop := m.zone, m.stop
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		select {
		case <-z.Exited():
		case <-stop:
			return
		}
		select {
		case c.exits <- z:
		case <-stop:
		}
	}()
}

// create starts creating M's zone as WANT on a goroutine of its own; the
// result comes back to the loop on c.results.
func (c *controller) create(m *managed, want zoneSpec) {
	goctx, cancel := context.WithTimeout(context.Background(), createTimeout)
	m.creating = cancel
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer cancel()
		z, err := c.ec.CreateZone(goctx, want.config())
		select {
		case c.results <- createResult{name: want.Name, spec: want, zone: z, err: err}:
		case <-c.quit:
			// stopping: a zone made after all is left running, for the
			// next run to take over, as the others are
		}
	}()
}

// created takes a creation's result.
func (c *controller) created(r createResult) {
	m := c.zones[r.name] // kept while its creation is under way
	m.creating = nil
	if r.err != nil {
		d := m.nextBackoff(c.backoffMax)
		m.retryAt = time.Now().Add(d)
		c.out.log(event{Event: "create-failed", Zone: r.name, Error: r.err.Error(),
			Backoff: d.String()})
		return
	}
	spec := r.spec
	m.zone, m.spec, m.since, m.exited = r.zone, &spec, time.Now(), false
	m.stop = make(chan struct{})
	c.watch(m)
	c.out.log(event{Event: "created", Zone: r.name, Domid: r.zone.Domid()})
}

// destroy destroys M's zone (or frees the handle of a zone that stopped),
// WHY being the reason logged.  False if it failed: it is retried later.
func (c *controller) destroy(m *managed, why string) bool {
	z := m.zone
	goctx, cancel := context.WithTimeout(context.Background(), destroyTimeout)
	defer cancel()
	if err := z.Destroy(goctx); err != nil && !errors.Is(err, edera.ErrGone) {
		m.retryAt = time.Now().Add(destroyRetry)
		c.out.log(event{Event: "destroy-failed", Zone: m.name, Domid: z.Domid(), Reason: why,
			Error: err.Error(), Backoff: destroyRetry.String()})
		return false
	}
	close(m.stop)
	m.zone, m.spec, m.stop, m.exited = nil, nil, nil, false
	c.out.log(event{Event: "destroyed", Zone: m.name, Domid: z.Domid(), Reason: why})
	return true
}

// exited takes the news that zone Z stopped on its own.
func (c *controller) exited(z *edera.Zone) {
	m := c.zones[z.Name()]
	if m == nil || m.zone != z || m.exited {
		return // destroyed meanwhile: a stale notice
	}
	m.exited = true
	reason, _ := z.ExitReason()
	ran := time.Since(m.since)
	if ran >= backoffReset {
		m.backoff = 0
	}
	c.out.log(event{Event: "exited", Zone: m.name, Domid: z.Domid(), Reason: reason.String(),
		Ran: ran.Round(time.Millisecond).String()})
	c.freeExited(m)
}

// freeExited frees the handle of M's stopped zone and, if the spec still
// wants it, sets when it is created again.
func (c *controller) freeExited(m *managed) {
	reason, _ := m.zone.ExitReason()
	if !c.destroy(m, "exited") {
		return
	}
	if _, desired := c.spec.zones[m.name]; desired {
		d := m.nextBackoff(c.backoffMax)
		m.retryAt = time.Now().Add(d)
		c.out.log(event{Event: "restarting", Zone: m.name, Reason: reason.String(),
			Backoff: d.String()})
	}
}

// names is every name the controller has to look at, sorted: the spec's
// and those of its zones.
func (c *controller) names() []string {
	var names []string
	for name := range c.zones {
		names = append(names, name)
	}
	for _, name := range c.spec.names {
		if _, ok := c.zones[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// reconcile brings the zones towards the spec: destroys what is extra,
// stopped or changed, starts creating what is missing (once its back-off
// has passed).
func (c *controller) reconcile() {
	for _, name := range c.names() {
		want, desired := c.spec.zones[name]
		m := c.zones[name]
		if m == nil {
			m = &managed{name: name}
			c.zones[name] = m
		}
		if m.creating != nil {
			continue // its result comes back first
		}
		if desired && (!m.hasWant || m.want != want) {
			// a new spec for this name: a fresh start, without waiting
			m.want, m.hasWant = want, true
			m.backoff, m.retryAt = 0, time.Time{}
		}
		if time.Now().Before(m.retryAt) {
			continue
		}
		if m.zone != nil {
			switch {
			case m.exited:
				c.freeExited(m) // its Destroy failed before
			case !desired:
				c.destroy(m, "not in the spec")
			case m.spec != nil && *m.spec != want:
				c.destroy(m, "spec changed")
			}
		}
		switch {
		case m.zone == nil && desired && !time.Now().Before(m.retryAt):
			c.create(m, want)
		case m.zone == nil && !desired:
			delete(c.zones, name)
		}
	}
}

// nextRetry is how long until the earliest back-off still running ends, if
// any is.
func (c *controller) nextRetry() (time.Duration, bool) {
	now := time.Now()
	var first time.Time
	for _, m := range c.zones {
		if m.creating == nil && m.retryAt.After(now) && (first.IsZero() || m.retryAt.Before(first)) {
			first = m.retryAt
		}
	}
	if first.IsZero() {
		return 0, false
	}
	return first.Sub(now), true
}

// signal takes a signal: SIGHUP reloads the spec; the others stop the
// loop (true).
func (c *controller) signal(s os.Signal) bool {
	if s == syscall.SIGHUP {
		_ = c.loadSpec(true)
		return false
	}
	c.stopSig = s
	return true
}

// loop is the reconcile loop; it returns when a signal stops it.
func (c *controller) loop() {
	ticker := time.NewTicker(c.interval)
	defer ticker.Stop()
	for {
		c.reconcile()
		var wake <-chan time.Time
		var timer *time.Timer
		if d, ok := c.nextRetry(); ok {
			timer = time.NewTimer(d)
			wake = timer.C
		}
		stop := false
		select {
		case s := <-c.signals:
			stop = c.signal(s)
		case <-ticker.C:
			_ = c.loadSpec(false)
		case z := <-c.exits:
			c.exited(z)
		case r := <-c.results:
			c.created(r)
		case <-wake:
		}
		if timer != nil {
			timer.Stop()
		}
		if stop {
			return
		}
	}
}

// shutdown ends the goroutines and closes the context, leaving the zones
// running.  It returns their names.
func (c *controller) shutdown() []string {
	close(c.quit)
	var running []string
	for _, name := range c.names() {
		m := c.zones[name]
		if m.creating != nil {
			m.creating() // the library undoes the creation
		}
		if m.zone != nil {
			close(m.stop)
			m.stop = nil
			if !m.exited {
				running = append(running, name)
			}
		}
	}
	c.wg.Wait()
	c.ec.Close()
	return running
}

// adopt takes over the zones of the context after Reattach.
func (c *controller) adopt(goctx context.Context) error {
	zs, err := c.ec.Zones(goctx)
	if err != nil {
		return err
	}
	for _, z := range zs {
		m := &managed{name: z.Name(), zone: z, since: time.Now(), stop: make(chan struct{})}
		c.zones[m.name] = m
		c.watch(m)
		msg := "taken over; not in the spec: to be destroyed"
		if _, desired := c.spec.zones[m.name]; desired {
			msg = "taken over; the spec it was created with is unknown: kept as it is until it stops or leaves the spec"
		}
		c.out.log(event{Event: "reattached", Zone: m.name, Domid: z.Domid(), Message: msg})
	}
	return nil
}

// ---- main ----------------------------------------------------------------

const usageText = `Usage: controller -spec FILE [-interval 1s] [-backoff-max 30s]

Keeps the zones the JSON file FILE describes running, as Xen PV zones:
creates what is missing, destroys what is extra, re-creates (with a back-off)
what stops and what changed.  FILE is read again when it changes and on
SIGHUP.  Events are logged as JSON lines on stdout.  SIGINT or SIGTERM stop
it, leaving the zones running for the next run to take over.

FILE: {"zones": [{"name": "web-1", "kernel": "/boot/vmlinuz", "initrd": "",
        "cmdline": "console=hvc0", "memory_mib": 256, "vcpus": 1}]}

Exit status: 0 stopped by a signal, 1 the run failed, 2 bad usage.

Flags:
`

// shortUsage is what a usage error prints after saying what is wrong.
const shortUsage = "Usage: controller -spec FILE [-interval 1s] [-backoff-max 30s] (-h for help)"

func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, usageText)
	old := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(old)
}

// run is the program: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("controller", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // printed below: in full on stdout for -h, short on stderr for an error
	file := fs.String("spec", "", "the JSON `FILE` of the zones to keep running (required)")
	interval := fs.Duration("interval", time.Second, "how often to look at FILE for a change")
	backoffMax := fs.Duration("backoff-max", 30*time.Second,
		"the longest wait before creating again a zone that stopped or failed to start")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			printUsage(stdout, fs)
			return 0
		}
		fmt.Fprintln(stderr, shortUsage)
		return 2
	}
	bad := ""
	switch {
	case fs.NArg() > 0:
		bad = fmt.Sprintf("unexpected argument %q", fs.Arg(0))
	case *file == "":
		bad = "-spec FILE is required"
	case *interval <= 0:
		bad = "-interval must be positive"
	case *backoffMax <= 0:
		bad = "-backoff-max must be positive"
	}
	if bad != "" {
		fmt.Fprintf(stderr, "controller: %s\n%s\n", bad, shortUsage)
		return 2
	}

	out := newLogger(stdout)
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(signals)
	out.log(event{Event: "started", File: *file, PID: os.Getpid(), Version: edera.Version(),
		Interval: interval.String(), BackoffMax: backoffMax.String()})
	fail := func(err error) int {
		fmt.Fprintf(stderr, "controller: %v\n", err)
		out.log(event{Event: "stopped", Error: err.Error()})
		return 1
	}

	c := &controller{file: *file, interval: *interval, backoffMax: *backoffMax, out: out,
		zones: map[string]*managed{}, exits: make(chan *edera.Zone),
		results: make(chan createResult), quit: make(chan struct{}), signals: signals}
	if err := c.loadSpec(true); err != nil {
		return fail(err)
	}
	ec, err := edera.Open(edera.Options{})
	if err != nil {
		return fail(err)
	}
	c.ec = ec
	goctx, cancel := context.WithTimeout(context.Background(), attachTimeout)
	attached, cleaned, err := ec.Reattach(goctx)
	if err == nil {
		c.out.log(event{Event: "reattached", Attached: intp(attached), Cleaned: intp(cleaned)})
		err = c.adopt(goctx)
	}
	cancel()
	if err != nil {
		c.shutdown()
		return fail(fmt.Errorf("taking over the zones left running: %w", err))
	}

	c.loop()
	out.log(event{Event: "stopping", Reason: c.stopSig.String()})
	running := c.shutdown()
	out.log(event{Event: "stopped", Zones: running,
		Message: "the zones are left running for the next run to take over"})
	return 0
}
