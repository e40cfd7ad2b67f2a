// SPDX-License-Identifier: LGPL-2.1-or-later

package edera

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"context"
	"fmt"
	"io"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// RlimInfinity is "no limit" in an Rlimit.
const RlimInfinity = ^uint64(0)

// ProcessRlimitsMax is how many Rlimits one process may be given.
const ProcessRlimitsMax = C.EDERA_PROCESS_RLIMITS_MAX

// Rlimit is a resource limit set in the zone before the process runs.
type Rlimit struct {
	Resource int    // syscall.RLIMIT_NOFILE, ...
	Soft     uint64 // RlimInfinity: none
	Hard     uint64 // at least Soft
}

// ProcessConfig describes a process of a workload.  For the workload's own
// process every field may be left empty: the image's Entrypoint and Cmd,
// Env, WorkingDir and User are used.
type ProcessConfig struct {
	Args       []string // argv; empty: the image's Entrypoint + Cmd (required for Exec)
	Env        []string // "NAME=value", over the image's Env
	Cwd        string   // empty: the image's WorkingDir, or "/"
	User       string   // "user[:group]", names (the image's /etc/passwd, /etc/group) or numbers; empty: the image's User, or root
	Terminal   bool     // on a terminal (all output then comes on Stdout)
	Rows, Cols uint16   // its size (0: 24 x 80)
	Rlimits    []Rlimit // at most ProcessRlimitsMax, one per resource
}

// WorkloadProgress is where the conversion of a workload's image stands.
type WorkloadProgress struct {
	Step          string // "reading", "unpacking" (a layer), "packing"
	Layer, Layers uint32 // while unpacking: which layer (from 1), of how many
	Done, Total   uint64 // while unpacking: the layer's compressed bytes read, of its size (0: unknown)
}

// WorkloadConfig describes a container image to run in a zone of its own
// (see RunWorkload).  Name, Image and the Process are what matter; zero
// values elsewhere take the library's defaults.
type WorkloadConfig struct {
	Name        string // the zone's name; required
	Image       string // an OCI layout directory, or an OCI or `docker save` archive; or RootFS
	RootFS      string // instead of Image: a directory used as the root as it is (packed per run; Process.Args required)
	ImageName   string // which image, when it holds several (a ref name or a docker tag)
	CacheDir    string // converted images, initramfs; empty: $EDERA_CACHE_DIR, or /var/cache/edera
	CacheMaxMiB uint64 // what one conversion may write (0: 4096)
	Kernel      string // empty: dom0's own, /boot/vmlinuz-$(uname -r)
	ModulesDir  string // the kernel's modules; empty: /lib/modules/<its version>
	Init        string // edera-zone-init; empty: $EDERA_ZONE_INIT, or the installed one
	MemoryMiB   uint64 // 0: 256
	VCPUs       uint32 // 0: 1
	Disks       []Disk // more disks (xvdb on: xvda is the image)
	NICs        []NIC
	Hostname    string        // empty: the Name
	Address     string        // "A.B.C.D/N" for eth0 (the first NIC)
	Gateway     string        // its default route
	DNS         []string      // name servers for /etc/resolv.conf
	Timeout     time.Duration // from the zone's start to its init's greeting (0: 60 s)
	Process     ProcessConfig
	// NoSpare: boot a zone for this run even when a spare zone (Spare)
	// would do.
	NoSpare bool

	// OutputBuffer is how many bytes of output wait for the readers
	// (Process.Stdout, Stderr) before the zone is made to wait (0: 1 MiB).
	OutputBuffer int
	// Progress, if set, is told how the image's conversion goes (a first
	// run of a large image can take minutes; never for a cached image).
	// It runs on the Context's loop goroutine: it must return quickly and
	// must not call the Context's methods.
	Progress func(WorkloadProgress)
}

func hasNul(ss ...string) bool {
	for _, s := range ss {
		if strings.ContainsRune(s, 0) {
			return true
		}
	}
	return false
}

func (pc *ProcessConfig) validate(op string, exec bool) error {
	if exec && len(pc.Args) == 0 {
		return invalid(op, "Args are required (an exec does not use the image's Entrypoint)")
	}
	if hasNul(pc.Args...) || hasNul(pc.Env...) || hasNul(pc.Cwd, pc.User) {
		return invalid(op, "the process config holds a NUL byte")
	}
	for _, e := range pc.Env {
		if i := strings.IndexByte(e, '='); i <= 0 {
			return invalid(op, "Env entry %q is not NAME=value", e)
		}
	}
	if len(pc.Rlimits) > ProcessRlimitsMax {
		return invalid(op, "%d Rlimits (at most %d)", len(pc.Rlimits), ProcessRlimitsMax)
	}
	for i, r := range pc.Rlimits {
		if r.Soft > r.Hard {
			return invalid(op, "Rlimits[%d]: Soft %d is above Hard %d", i, r.Soft, r.Hard)
		}
	}
	return nil
}

// Validate checks the configuration as RunWorkload will (the library
// checks more: the image itself, the kernel, each Rlimit's resource).
func (cfg *WorkloadConfig) Validate() error {
	const op = "WorkloadConfig"
	switch {
	case cfg.Name == "":
		return invalid(op, "Name is required")
	case cfg.Image == "" && cfg.RootFS == "":
		return invalid(op, "Image is required (an OCI layout directory or archive), or RootFS (a directory)")
	case cfg.Image != "" && cfg.RootFS != "":
		return invalid(op, "Image %q and RootFS %q: give one of them", cfg.Image, cfg.RootFS)
	case cfg.RootFS != "" && len(cfg.Process.Args) == 0:
		return invalid(op, "RootFS %q has no image config to take a command from: give Process.Args", cfg.RootFS)
	case hasNul(cfg.Name, cfg.Image, cfg.RootFS, cfg.ImageName, cfg.CacheDir, cfg.Kernel, cfg.ModulesDir,
		cfg.Init, cfg.Hostname, cfg.Address, cfg.Gateway) || hasNul(cfg.DNS...):
		return invalid(op, "a string of the config holds a NUL byte")
	case cfg.Timeout < 0:
		return invalid(op, "Timeout is negative")
	case cfg.OutputBuffer < 0:
		return invalid(op, "OutputBuffer is negative")
	}
	if err := validateDevices(op, cfg.Disks, cfg.NICs); err != nil {
		return err
	}
	return cfg.Process.validate(op, false)
}

func (cc *cConfig) strv(ss []string) (**C.char, C.size_t) {
	if len(ss) == 0 {
		return nil, 0
	}
	arr := unsafe.Slice((**C.char)(cc.alloc(uintptr(len(ss))*unsafe.Sizeof(uintptr(0)))), len(ss))
	for i, s := range ss {
		p := C.CString(s)
		cc.frees = append(cc.frees, unsafe.Pointer(p))
		arr[i] = p
	}
	return &arr[0], C.size_t(len(ss))
}

// processToC fills a C process config (callbacks are the shim's).
func (cc *cConfig) process(pc *ProcessConfig) *C.edera_process_config {
	c := (*C.edera_process_config)(cc.alloc(C.sizeof_edera_process_config))
	C.edera_process_config_init(c)
	c.args, c.n_args = cc.strv(pc.Args)
	c.env, c.n_env = cc.strv(pc.Env)
	c.cwd = cc.str(pc.Cwd)
	c.user = cc.str(pc.User)
	if pc.Terminal {
		c.terminal = 1
	}
	c.rows = C.uint16_t(pc.Rows)
	c.cols = C.uint16_t(pc.Cols)
	if n := len(pc.Rlimits); n > 0 {
		arr := unsafe.Slice((*C.edera_rlimit)(cc.alloc(uintptr(n)*C.sizeof_edera_rlimit)), n)
		for i, r := range pc.Rlimits {
			arr[i].resource = C.int(r.Resource)
			arr[i].soft = C.uint64_t(r.Soft)
			arr[i].hard = C.uint64_t(r.Hard)
		}
		c.rlimits = &arr[0]
		c.n_rlimits = C.size_t(n)
	}
	return c
}

func (cfg *WorkloadConfig) toC() (*cConfig, *C.edera_workload_config, *C.edera_process_config) {
	// the zone part (disks, NICs) as a zone config makes them
	zc := (&ZoneConfig{Disks: cfg.Disks, NICs: cfg.NICs}).toC()
	c := (*C.edera_workload_config)(zc.alloc(C.sizeof_edera_workload_config))
	C.edera_workload_config_init(c)
	c.name = zc.str(cfg.Name)
	c.image = zc.str(cfg.Image)
	c.rootfs = zc.str(cfg.RootFS)
	c.image_name = zc.str(cfg.ImageName)
	c.cache_dir = zc.str(cfg.CacheDir)
	c.cache_max_mib = C.uint64_t(cfg.CacheMaxMiB)
	c.kernel = zc.str(cfg.Kernel)
	c.modules_dir = zc.str(cfg.ModulesDir)
	c.init = zc.str(cfg.Init)
	if cfg.MemoryMiB != 0 {
		c.memory_mib = C.uint64_t(cfg.MemoryMiB)
	}
	if cfg.VCPUs != 0 {
		c.vcpus = C.uint32_t(cfg.VCPUs)
	}
	c.disks = zc.cfg.disks
	c.n_disks = zc.cfg.n_disks
	c.nics = zc.cfg.nics
	c.n_nics = zc.cfg.n_nics
	c.hostname = zc.str(cfg.Hostname)
	c.address = zc.str(cfg.Address)
	c.gateway = zc.str(cfg.Gateway)
	c.dns, c.n_dns = zc.strv(cfg.DNS)
	if cfg.Timeout > 0 {
		c.timeout_ms = C.uint((cfg.Timeout + time.Millisecond - 1) / time.Millisecond)
	}
	if cfg.NoSpare {
		c.no_spare = 1
	}
	return zc, c, zc.process(&cfg.Process)
}

// Spare boots a spare zone: a zone booted ahead with cfg's Kernel,
// ModulesDir, Init, CacheDir, MemoryMiB, VCPUs and Name (empty:
// "edera-spare-" and random hex; Image, Process and devices are not used),
// its init waiting, so that a later RunWorkload with the same kernel file,
// modules, init, memory and vCPUs — in this Context or any other process
// on the host — takes it and starts without waiting for a kernel's boot.
// Each spare is taken by one run only and ends with its workload; until
// then it is a zone like others (Zones, Destroy; it stays when the Context
// closes).  Spare returns once the zone is created and marked (it may
// still be booting).
//
// Errors: ErrInvalid, ErrExists (the name is in use), ErrNotFound (no such
// kernel, module or edera-zone-init), and CreateZone's.
func (c *Context) Spare(goctx context.Context, cfg WorkloadConfig) (*Zone, error) {
	const op = "Spare"
	if hasNul(cfg.Name, cfg.CacheDir, cfg.Kernel, cfg.ModulesDir, cfg.Init) {
		return nil, invalid(op, "a string of the config holds a NUL byte")
	}
	cc, wc, _ := cfg.toC()
	defer cc.free()
	p := newPending(op)
	p.cleanup = c.undoIfAbandoned(op)
	r, err := c.start(goctx, p, func(h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_workload_spare(c.ctx, wc, h, e)
	})
	if err != nil {
		return nil, err
	}
	return r.zone, nil
}

// Workload is a container image running in a zone of its own.  It and its
// processes stay usable while the zone's handle does (until Destroy
// completes or the Context closes).  The zone powers off when the
// workload's own process ends; destroy it (Zone().Destroy) to end the
// workload early or to clean up after it.
type Workload struct {
	c    *Context
	z    *Zone
	wl   *C.edera_workload // loop goroutine only; nil once the zone's handle is freed
	proc *Process
	max  int64

	buffered int64 // output bytes waiting for readers (atomic)
	heldFlag int32 // 1 while the zone's output is held (atomic; set on the loop)
	held     bool  // loop goroutine only
}

// Zone is the zone the workload runs in.
func (w *Workload) Zone() *Zone { return w.z }

// Process is the workload's own process: when it ends, the zone powers off.
func (w *Workload) Process() *Process { return w.proc }

// Buffered is how many bytes of output wait for readers now, all the
// workload's processes together.  Past OutputBuffer the zone's output is
// held (its writes wait) until the readers have taken half of it: it
// stays below OutputBuffer plus what the zone had sent when it was held.
func (w *Workload) Buffered() int { return int(atomic.LoadInt64(&w.buffered)) }

// ExitStatus is how a process ended: with a Code (Signal 0), or killed by
// a Signal (Code -1).
type ExitStatus struct {
	Code   int
	Signal syscall.Signal
}

// ExitCode is the status as a shell gives it: Code, or 128 + the signal.
func (s ExitStatus) ExitCode() int {
	if s.Signal != 0 {
		return 128 + int(s.Signal)
	}
	return s.Code
}

func (s ExitStatus) String() string {
	if s.Signal != 0 {
		return fmt.Sprintf("killed by signal %d (%v)", int(s.Signal), s.Signal)
	}
	return fmt.Sprintf("exit code %d", s.Code)
}

// Process is a process of a workload: the workload's own, or one Exec
// started.  Its output is read from Stdout and Stderr (read both, or the
// zone is made to wait once OutputBuffer bytes are unread: output is
// never dropped); Write feeds its stdin.
type Process struct {
	w        *Workload
	p        *C.edera_process // loop goroutine only; nil once the zone's handle is freed
	h        cgo.Handle       // its callbacks'; 0 once they are over
	stdout   *stream
	stderr   *stream
	writable chan struct{}
	wlock    chan struct{} // one writer at a time

	mu     sync.Mutex
	status ExitStatus
	err    error
	done   chan struct{}
	once   sync.Once
}

func newProcess() *Process {
	p := &Process{writable: make(chan struct{}, 1), wlock: make(chan struct{}, 1),
		done: make(chan struct{})}
	p.stdout = &stream{p: p, ready: make(chan struct{}, 1)}
	p.stderr = &stream{p: p, ready: make(chan struct{}, 1)}
	return p
}

// RunWorkload runs a container image in a new zone: the image is converted
// (once, cached by its config digest), the zone created with the image as
// its root and the zone's init, and the process started.  It returns once
// the process runs.  On failure nothing is left behind (no zone).
// Cancelling GOCTX ends the wait with its error; a workload that started
// meanwhile is destroyed.
//
// Errors: ErrInvalid (bad config; a malformed image; an image with no
// command and no Args; an unknown user), ErrExists (the name is in use),
// ErrNotFound (no such image, kernel, module, edera-zone-init, or command
// in the image), ErrTimedOut (the zone's init never greeted), and
// CreateZone's.
func (c *Context) RunWorkload(goctx context.Context, cfg WorkloadConfig) (*Workload, error) {
	const op = "RunWorkload"
	if err := cfg.Validate(); err != nil {
		err.(*Error).Op = op
		return nil, err
	}
	cc, wc, pc := cfg.toC()
	defer cc.free()
	w := &Workload{c: c, max: int64(cfg.OutputBuffer)}
	if w.max == 0 {
		w.max = 1 << 20
	}
	w.proc = newProcess()
	w.proc.w = w
	p := newPending(op)
	run := &runOp{p: p, w: w, progress: cfg.Progress}
	p.hval = run
	p.cleanup = func(r *result) {
		if cz := (*C.edera_zone)(r.ptr); cz != nil {
			c.undoCreated(cz, op+" (cancelled)")
		}
	}
	progress := C.int(0)
	if cfg.Progress != nil {
		progress = 1
	}
	_, err := c.start(goctx, p, func(h C.uintptr_t, e *C.edgo_err) C.int {
		w.proc.h = newHandle(w.proc)
		rc := C.edgo_workload_run(c.ctx, wc, pc, h, C.uintptr_t(w.proc.h), progress, e)
		if rc < 0 {
			deleteHandle(w.proc.h)
			w.proc.h = 0
		}
		return rc
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// runOp is a RunWorkload in flight: what its callbacks' handle holds.
type runOp struct {
	p        *pending
	w        *Workload
	progress func(WorkloadProgress)
}

//export goWorkloadRun
func goWorkloadRun(h C.uintptr_t, status C.int, msg *C.char, cwl *C.edera_workload,
	cp *C.edera_process) {
	ch := cgo.Handle(h)
	run := ch.Value().(*runOp)
	deleteHandle(ch)
	p, w := run.p, run.w
	if status < 0 {
		// the process never ran: no callback of its comes
		deleteHandle(w.proc.h)
		w.proc.h = 0
		p.complete(result{err: cbErr(p.op, status, msg), cb: true})
		return
	}
	// wrapped whether or not the waiter is still there: the process's
	// callbacks are the zone's until its handle goes (a cancelled run
	// destroys it, which frees them)
	cz := C.edera_workload_zone(cwl)
	z := p.c.wrapZone(cz)
	if name := C.GoString(C.edera_zone_name(cz)); name != z.nameNow() {
		z.renamed.Store(name) // a spare of this Context, taken
	}
	w.z, w.wl, z.wl = z, cwl, w
	w.proc.p = cp
	if z.procs == nil {
		z.procs = map[*Process]struct{}{}
	}
	z.procs[w.proc] = struct{}{}
	p.complete(result{ptr: unsafe.Pointer(cz), zone: z, cb: true})
}

//export goWorkloadProgress
func goWorkloadProgress(h C.uintptr_t, step *C.char, layer, layers C.uint32_t, done,
	total C.uint64_t) {
	run := cgo.Handle(h).Value().(*runOp)
	if run.progress != nil {
		run.progress(WorkloadProgress{Step: C.GoString(step), Layer: uint32(layer),
			Layers: uint32(layers), Done: uint64(done), Total: uint64(total)})
	}
}

// onLoop runs F with the live C workload on the loop goroutine.
func (w *Workload) onLoop(goctx context.Context, f func(cwl *C.edera_workload) error) error {
	return w.z.onLoop(goctx, func(*C.edera_zone) error {
		if w.wl == nil {
			return ErrGone
		}
		return f(w.wl)
	})
}

// Exec runs one more process in the workload's zone while the workload
// runs (what `docker exec` does): cfg.Args are required; Cwd and User
// default as for the workload.  It returns once the process is asked
// for; a refusal of the zone's init (no such command, unknown user) comes
// as the process's Wait error.  Errors: ErrInvalid (bad config; the
// workload ended), ErrAgain (the channel's queue is full: try again).
func (w *Workload) Exec(goctx context.Context, cfg ProcessConfig) (*Process, error) {
	const op = "Exec"
	if err := cfg.validate(op, true); err != nil {
		return nil, err
	}
	cc := &cConfig{}
	defer cc.free()
	pc := cc.process(&cfg)
	proc := newProcess()
	proc.w = w
	err := w.onLoop(goctx, func(cwl *C.edera_workload) error {
		e := w.c.loopErr()
		proc.h = newHandle(proc)
		var out *C.edera_process
		if C.edgo_workload_exec(cwl, pc, C.uintptr_t(proc.h), &out, e) < 0 {
			deleteHandle(proc.h)
			proc.h = 0
			return errOf(op, e)
		}
		proc.p = out
		w.z.procs[proc] = struct{}{}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return proc, nil
}

// hold stops or resumes taking the zone's output (loop goroutine).
func (w *Workload) hold(on bool) {
	if w.wl == nil || w.held == on {
		return
	}
	v := C.int(0)
	if on {
		v = 1
	}
	if C.edgo_workload_hold(w.wl, v, w.c.loopErr()) == 0 {
		w.held = on
		if on {
			atomic.StoreInt32(&w.heldFlag, 1)
		} else {
			atomic.StoreInt32(&w.heldFlag, 0)
		}
	}
}

// consumed is called by a reader that took N bytes (any goroutine).
func (w *Workload) consumed(n int) {
	left := atomic.AddInt64(&w.buffered, -int64(n))
	if left <= w.max/2 && atomic.LoadInt32(&w.heldFlag) == 1 {
		w.c.post(func(live bool) {
			if live && atomic.LoadInt64(&w.buffered) <= w.max/2 {
				w.hold(false)
			}
		})
	}
}

//export goProcOutput
func goProcOutput(h C.uintptr_t, fd C.int, b unsafe.Pointer, n C.size_t) {
	p := cgo.Handle(h).Value().(*Process)
	s := p.stdout
	if fd == 2 {
		s = p.stderr
	}
	if n == 0 {
		s.end(nil)
		return
	}
	data := C.GoBytes(b, C.int(n))
	if s.push(data) {
		w := p.w
		if atomic.AddInt64(&w.buffered, int64(len(data))) > w.max {
			w.hold(true)
			// the readers may have taken it all between the count and
			// the flag (they saw no hold to undo): look again, after the
			// flag is set (sequentially consistent atomics: either they
			// see the flag and post the resume, or this sees their count)
			if atomic.LoadInt64(&w.buffered) <= w.max/2 {
				w.hold(false)
			}
		}
	}
}

//export goProcExit
func goProcExit(h C.uintptr_t, status C.int, msg *C.char, code, sig C.int) {
	p := cgo.Handle(h).Value().(*Process)
	var err error
	if status < 0 {
		err = cbErr("Process", status, msg)
	}
	// the last call about it: its handle goes
	deleteHandle(p.h)
	p.h = 0
	p.finish(ExitStatus{Code: int(code), Signal: syscall.Signal(sig)}, err)
}

//export goProcWritable
func goProcWritable(h C.uintptr_t) {
	signal(cgo.Handle(h).Value().(*Process).writable)
}

// finish records the end (loop goroutine).
func (p *Process) finish(st ExitStatus, err error) {
	p.once.Do(func() {
		p.mu.Lock()
		p.status, p.err = st, err
		p.mu.Unlock()
		p.stdout.end(nil) // the last output came before the exit
		p.stderr.end(nil)
		close(p.done)
	})
}

// release: the zone's handle is gone (loop goroutine).
func (p *Process) release(err error) {
	if p.h != 0 {
		deleteHandle(p.h)
		p.h = 0
	}
	p.p = nil
	p.stdout.end(err)
	p.stderr.end(err)
	p.finish(ExitStatus{Code: -1}, err)
}

// Stdout is the process's standard output (a terminal's output too): it
// reads io.EOF after the last byte once the process ended.
func (p *Process) Stdout() io.Reader { return p.stdout }

// Stderr is the process's standard error (nothing with a terminal).
func (p *Process) Stderr() io.Reader { return p.stderr }

// Done is closed when the process has ended (then Wait returns at once).
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the process to end and says how: its ExitStatus, or an
// error if it never ran or its end is unknown — the zone's init refused
// it (ErrNotFound: no such command or directory in the image; ErrInvalid:
// unknown user), the zone stopped without a report (ErrNotConnected), or
// the zone's handle was freed first (ErrGone).
func (p *Process) Wait(goctx context.Context) (ExitStatus, error) {
	select {
	case <-p.done:
	case <-goctx.Done():
		return ExitStatus{}, ctxErr("Process.Wait", goctx)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status, p.err
}

// onLoop runs F with the live C process on the loop goroutine.
func (p *Process) onLoop(goctx context.Context, f func(cp *C.edera_process, e *C.edgo_err) error) error {
	return p.w.z.onLoop(goctx, func(*C.edera_zone) error {
		if p.p == nil {
			return ErrGone
		}
		return f(p.p, p.w.c.loopErr())
	})
}

// Pid is the process's pid in the zone (0 before it started).
func (p *Process) Pid(goctx context.Context) (uint32, error) {
	var pid uint32
	err := p.onLoop(goctx, func(cp *C.edera_process, _ *C.edgo_err) error {
		pid = uint32(C.edera_process_pid(cp))
		return nil
	})
	return pid, err
}

// Write writes B to the process's stdin, waiting while the zone has not
// taken what was written before.  Errors: ErrInvalid (the process ended,
// or its stdin was closed), ErrNotConnected (the zone went).
func (p *Process) Write(b []byte) (int, error) {
	return p.WriteContext(context.Background(), b)
}

// WriteContext is Write, giving up when GOCTX is done.
func (p *Process) WriteContext(goctx context.Context, b []byte) (int, error) {
	select {
	case p.wlock <- struct{}{}:
	case <-goctx.Done():
		return 0, ctxErr("Process.Write", goctx)
	}
	defer func() { <-p.wlock }()
	n := 0
	for n < len(b) {
		wrote, again := 0, false
		err := p.onLoop(goctx, func(cp *C.edera_process, e *C.edgo_err) error {
			chunk := b[n:]
			rc := C.edgo_process_write(cp, unsafe.Pointer(&chunk[0]), C.size_t(len(chunk)), e)
			if rc == C.EDERA_EAGAIN {
				again = true
				return nil
			}
			if rc < 0 {
				return errOf("Process.Write", e)
			}
			wrote = int(rc)
			return nil
		})
		if err != nil {
			return n, err
		}
		n += wrote
		if again {
			select {
			case <-p.writable:
			case <-p.done: // the next write says why it cannot
			case <-goctx.Done():
				return n, ctxErr("Process.Write", goctx)
			}
		}
	}
	return n, nil
}

// call runs one of the process's calls that send the zone a message: when
// the channel's queue is full (EDERA_EAGAIN), again once it has room.
func (p *Process) call(goctx context.Context, op string,
	f func(cp *C.edera_process, e *C.edgo_err) C.int) error {
	for {
		again := false
		err := p.onLoop(goctx, func(cp *C.edera_process, e *C.edgo_err) error {
			rc := f(cp, e)
			if rc == C.EDERA_EAGAIN {
				again = true
				return nil
			}
			if rc < 0 {
				return errOf(op, e)
			}
			return nil
		})
		if err != nil || !again {
			return err
		}
		select {
		case <-p.writable:
		case <-p.done: // the next call says why it cannot
		case <-goctx.Done():
			return ctxErr(op, goctx)
		}
	}
}

// CloseStdin ends the process's stdin (a terminal gets an end-of-file
// character).  After Write's waits: call it once the writing is done.
func (p *Process) CloseStdin(goctx context.Context) error {
	return p.call(goctx, "Process.CloseStdin", func(cp *C.edera_process, e *C.edgo_err) C.int {
		return C.edgo_process_close_stdin(cp, e)
	})
}

// Kill sends the process signal SIG (1 to 64), waiting for room in the
// channel to the zone when its queue is full (as Write does).
func (p *Process) Kill(goctx context.Context, sig syscall.Signal) error {
	return p.call(goctx, "Process.Kill", func(cp *C.edera_process, e *C.edgo_err) C.int {
		return C.edgo_process_kill(cp, C.int(sig), e)
	})
}

// Resize resizes the process's terminal.
func (p *Process) Resize(goctx context.Context, rows, cols uint16) error {
	return p.call(goctx, "Process.Resize", func(cp *C.edera_process, e *C.edgo_err) C.int {
		return C.edgo_process_resize(cp, C.uint16_t(rows), C.uint16_t(cols), e)
	})
}

// stream is one of a process's outputs: chunks waiting for Read.
type stream struct {
	p      *Process
	mu     sync.Mutex
	chunks [][]byte
	ended  bool
	err    error // why it ended (nil: io.EOF)
	ready  chan struct{}
}

// push queues a chunk (loop goroutine): false if the stream has ended.
func (s *stream) push(b []byte) bool {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return false
	}
	s.chunks = append(s.chunks, b)
	s.mu.Unlock()
	signal(s.ready)
	return true
}

func (s *stream) end(err error) {
	s.mu.Lock()
	if !s.ended {
		s.ended, s.err = true, err
	}
	s.mu.Unlock()
	signal(s.ready)
}

// Read reads what the process wrote, waiting for output; io.EOF after the
// last byte.
func (s *stream) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		s.mu.Lock()
		if len(s.chunks) > 0 {
			n := copy(b, s.chunks[0])
			if n == len(s.chunks[0]) {
				s.chunks[0] = nil
				s.chunks = s.chunks[1:]
			} else {
				s.chunks[0] = s.chunks[0][n:]
			}
			s.mu.Unlock()
			s.p.w.consumed(n)
			return n, nil
		}
		if s.ended {
			err := s.err
			s.mu.Unlock()
			signal(s.ready) // for another reader
			if err == nil {
				err = io.EOF
			}
			return 0, err
		}
		s.mu.Unlock()
		<-s.ready
	}
}

// ImageInfo is an image converted in the cache.
type ImageInfo struct {
	Digest   string    // the image config's, "sha256:<hex>"
	Name     string    // the name it was converted under, or ""
	Size     uint64    // bytes it takes in the cache
	LastUsed time.Time // when a run last used it
}

// Images lists the images converted in CACHEDIR (empty: $EDERA_CACHE_DIR,
// or /var/cache/edera), most recently used first.  A missing directory is
// an empty cache.  No Context is needed (nor Xen).
func Images(cacheDir string) ([]ImageInfo, error) {
	if hasNul(cacheDir) {
		return nil, invalid("Images", "the cache directory holds a NUL byte")
	}
	var dir *C.char
	if cacheDir != "" {
		dir = cstr(cacheDir)
		defer free(dir)
	}
	var list *C.edera_image_info
	var n C.size_t
	var e C.edgo_err
	if C.edgo_images_list(dir, &list, &n, &e) < 0 {
		return nil, errOf("Images", &e)
	}
	defer C.edera_free(unsafe.Pointer(list))
	out := make([]ImageInfo, 0, int(n))
	for _, im := range unsafe.Slice(list, int(n)) {
		out = append(out, ImageInfo{Digest: C.GoString(&im.digest[0]), Name: C.GoString(&im.name[0]),
			Size: uint64(im.size), LastUsed: time.Unix(int64(im.last_used), 0)})
	}
	return out, nil
}

// PruneImages removes the least recently used images of CACHEDIR until it
// holds at most KEEPMIB (0: empties it), skipping images being converted
// or used by a conversion; it says how many went and the bytes freed.
func PruneImages(cacheDir string, keepMiB uint64) (removed int, freed uint64, err error) {
	if hasNul(cacheDir) {
		return 0, 0, invalid("PruneImages", "the cache directory holds a NUL byte")
	}
	var dir *C.char
	if cacheDir != "" {
		dir = cstr(cacheDir)
		defer free(dir)
	}
	var n C.size_t
	var f C.uint64_t
	var e C.edgo_err
	if C.edgo_images_prune(dir, C.uint64_t(keepMiB), &n, &f, &e) < 0 {
		return 0, 0, errOf("PruneImages", &e)
	}
	return int(n), uint64(f), nil
}

// cWorkloadFields prints the C config CFG makes, for the tests (cgo cannot
// be used in _test.go files).
func cWorkloadFields(cfg *WorkloadConfig) string {
	cc, c, pc := cfg.toC()
	defer cc.free()
	s := func(p *C.char) string {
		if p == nil {
			return "<nil>"
		}
		return C.GoString(p)
	}
	v := func(p **C.char, n C.size_t) string {
		var out []string
		for _, q := range unsafe.Slice(p, int(n)) {
			out = append(out, s(q))
		}
		return "[" + strings.Join(out, ",") + "]"
	}
	out := fmt.Sprintf("%s %s %s %s %s %d %s %s %s %d %d %s %s %s %s %d disks=%d nics=%d | ",
		s(c.name), s(c.image), s(c.rootfs), s(c.image_name), s(c.cache_dir), c.cache_max_mib, s(c.kernel),
		s(c.modules_dir), s(c.init), c.memory_mib, c.vcpus, s(c.hostname), s(c.address),
		s(c.gateway), v(c.dns, c.n_dns), c.timeout_ms, c.n_disks, c.n_nics)
	out += fmt.Sprintf("%s %s %s %s %d %dx%d", v(pc.args, pc.n_args), v(pc.env, pc.n_env),
		s(pc.cwd), s(pc.user), pc.terminal, pc.rows, pc.cols)
	for _, r := range unsafe.Slice(pc.rlimits, int(pc.n_rlimits)) {
		out += fmt.Sprintf(" rl%d=%d:%d", r.resource, r.soft, r.hard)
	}
	return out
}
