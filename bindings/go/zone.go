// SPDX-License-Identifier: LGPL-2.1-or-later

package edera

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"context"
	"fmt"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// ConsoleMode says who serves a zone's console.
type ConsoleMode int

const (
	// ConsoleLibrary: served by the library in this process (the default):
	// Zone.Console, history, logs.
	ConsoleLibrary ConsoleMode = C.EDERA_CONSOLE_LIBRARY
	// ConsoleXenconsoled: left to xenconsoled (for `xl console`); the
	// console methods then fail with ErrNotSupported.
	ConsoleXenconsoled ConsoleMode = C.EDERA_CONSOLE_XENCONSOLED
)

// Disk is a disk given to a zone: an image file (attached through a loop
// device the library sets up) or a block device.
type Disk struct {
	Path     string // required
	VDev     string // the guest's name for it, "xvda" ... "xvdp"; required
	ReadOnly bool
}

// NIC is a network interface given to a zone, joined to a Linux bridge in
// dom0.
type NIC struct {
	Bridge string // required
	MAC    string // "aa:bb:cc:dd:ee:ff"; empty: a stable one derived from the zone's UUID
	MTU    uint32 // 0: 1500
}

// ZoneConfig describes a zone to create.  Name and Kernel are required;
// zero values elsewhere take the library's defaults.
type ZoneConfig struct {
	Name         string // unique among the context's zones
	Kernel       string // path of a bzImage or ELF PV kernel
	Initrd       string // path, or empty
	Cmdline      string
	MemoryMiB    uint64 // at boot (default 256)
	MaxMemoryMiB uint64 // ceiling for SetMemory (default MemoryMiB)
	VCPUs        uint32 // online at boot (default 1)
	MaxVCPUs     uint32 // ceiling for SetVCPUs (default VCPUs)
	StartPaused  bool   // leave it paused (see Zone.Unpause)

	ConsoleMode       ConsoleMode
	ConsoleHistoryKiB uint32 // output kept for late readers (default 64, at most 16384)
	ConsoleLog        string // a file the output is appended to
	ConsoleLogMaxKiB  uint32 // the log rotates past this (default 10240)

	// Devices attached at creation: CreateZone then returns once the
	// guest's drivers have connected them all (within DeviceTimeout,
	// default 60 s), unless StartPaused.
	Disks         []Disk
	NICs          []NIC
	DeviceTimeout time.Duration
}

// Validate checks the configuration as CreateZone will (the library checks
// more: the kernel file itself, the free memory, the bridge).  The error is
// an *Error with ErrInvalid's code saying what is wrong.
func (cfg *ZoneConfig) Validate() error {
	const op = "ZoneConfig"
	switch {
	case cfg.Name == "":
		return invalid(op, "Name is required")
	case strings.ContainsRune(cfg.Name, 0):
		return invalid(op, "Name %q holds a NUL byte", cfg.Name)
	case cfg.Kernel == "":
		return invalid(op, "Kernel is required (the path of a PV kernel)")
	case cfg.MaxMemoryMiB != 0 && cfg.MaxMemoryMiB < cfg.MemoryMiB:
		return invalid(op, "MaxMemoryMiB %d is below MemoryMiB %d", cfg.MaxMemoryMiB, cfg.MemoryMiB)
	case cfg.MaxVCPUs != 0 && cfg.MaxVCPUs < cfg.VCPUs:
		return invalid(op, "MaxVCPUs %d is below VCPUs %d", cfg.MaxVCPUs, cfg.VCPUs)
	case cfg.ConsoleMode != ConsoleLibrary && cfg.ConsoleMode != ConsoleXenconsoled:
		return invalid(op, "ConsoleMode %d is neither ConsoleLibrary nor ConsoleXenconsoled", cfg.ConsoleMode)
	case cfg.ConsoleHistoryKiB > C.EDERA_CONSOLE_HISTORY_MAX_KIB:
		return invalid(op, "ConsoleHistoryKiB %d is above the most allowed, %d", cfg.ConsoleHistoryKiB,
			C.EDERA_CONSOLE_HISTORY_MAX_KIB)
	case cfg.DeviceTimeout < 0:
		return invalid(op, "DeviceTimeout is negative")
	}
	for _, s := range []string{cfg.Kernel, cfg.Initrd, cfg.Cmdline, cfg.ConsoleLog} {
		if strings.ContainsRune(s, 0) {
			return invalid(op, "%q holds a NUL byte", s)
		}
	}
	return validateDevices(op, cfg.Disks, cfg.NICs)
}

// validateDevices checks the disks and NICs of a zone or workload config.
func validateDevices(op string, disks []Disk, nics []NIC) error {
	for i, d := range disks {
		if d.Path == "" || d.VDev == "" {
			return invalid(op, "Disks[%d]: Path and VDev are required", i)
		}
	}
	for i, n := range nics {
		if n.Bridge == "" {
			return invalid(op, "NICs[%d]: Bridge is required", i)
		}
	}
	return nil
}

// cConfig is a zone config in C memory.
type cConfig struct {
	cfg   *C.edera_zone_config
	frees []unsafe.Pointer
}

func (cc *cConfig) str(s string) *C.char {
	if s == "" {
		return nil
	}
	p := C.CString(s)
	cc.frees = append(cc.frees, unsafe.Pointer(p))
	return p
}

func (cc *cConfig) alloc(n uintptr) unsafe.Pointer {
	p := C.calloc(1, C.size_t(n))
	cc.frees = append(cc.frees, p)
	return p
}

func (cc *cConfig) free() {
	for _, p := range cc.frees {
		C.free(p)
	}
}

func (cfg *ZoneConfig) toC() *cConfig {
	cc := &cConfig{}
	c := (*C.edera_zone_config)(cc.alloc(C.sizeof_edera_zone_config))
	C.edera_zone_config_init(c)
	cc.cfg = c
	c.name = cc.str(cfg.Name)
	c.kernel = cc.str(cfg.Kernel)
	c.initrd = cc.str(cfg.Initrd)
	c.cmdline = cc.str(cfg.Cmdline)
	if cfg.MemoryMiB != 0 {
		c.memory_mib = C.uint64_t(cfg.MemoryMiB)
	}
	if cfg.MaxMemoryMiB != 0 {
		c.max_memory_mib = C.uint64_t(cfg.MaxMemoryMiB)
	}
	c.vcpus = C.uint32_t(cfg.VCPUs)
	c.max_vcpus = C.uint32_t(cfg.MaxVCPUs)
	if cfg.StartPaused {
		c.start_paused = 1
	}
	c.console_mode = C.int(cfg.ConsoleMode)
	c.console_history_kib = C.uint32_t(cfg.ConsoleHistoryKiB)
	c.console_log = cc.str(cfg.ConsoleLog)
	c.console_log_max_kib = C.uint32_t(cfg.ConsoleLogMaxKiB)
	c.device_timeout_ms = C.uint((cfg.DeviceTimeout + time.Millisecond - 1) / time.Millisecond)
	if n := len(cfg.Disks); n > 0 {
		arr := unsafe.Slice((**C.edera_disk_config)(cc.alloc(uintptr(n)*unsafe.Sizeof(uintptr(0)))), n)
		for i, d := range cfg.Disks {
			dc := (*C.edera_disk_config)(cc.alloc(C.sizeof_edera_disk_config))
			C.edera_disk_config_init(dc)
			dc.path = cc.str(d.Path)
			dc.vdev = cc.str(d.VDev)
			if d.ReadOnly {
				dc.readonly = 1
			}
			arr[i] = dc
		}
		c.disks = &arr[0]
		c.n_disks = C.size_t(n)
	}
	if n := len(cfg.NICs); n > 0 {
		arr := unsafe.Slice((**C.edera_nic_config)(cc.alloc(uintptr(n)*unsafe.Sizeof(uintptr(0)))), n)
		for i, d := range cfg.NICs {
			nc := (*C.edera_nic_config)(cc.alloc(C.sizeof_edera_nic_config))
			C.edera_nic_config_init(nc)
			nc.bridge = cc.str(d.Bridge)
			nc.mac = cc.str(d.MAC)
			nc.mtu = C.uint32_t(d.MTU)
			arr[i] = nc
		}
		c.nics = &arr[0]
		c.n_nics = C.size_t(n)
	}
	return cc
}

// ExitReason says why a zone stopped.
type ExitReason int

// The reasons a zone stops.
const (
	PowerOff  ExitReason = C.EDERA_ZONE_EXIT_POWEROFF
	Reboot    ExitReason = C.EDERA_ZONE_EXIT_REBOOT
	Suspend   ExitReason = C.EDERA_ZONE_EXIT_SUSPEND
	Crash     ExitReason = C.EDERA_ZONE_EXIT_CRASH
	Watchdog  ExitReason = C.EDERA_ZONE_EXIT_WATCHDOG
	Destroyed ExitReason = C.EDERA_ZONE_EXIT_DESTROYED // destroyed by someone else
)

func (r ExitReason) String() string {
	switch r {
	case PowerOff:
		return "poweroff"
	case Reboot:
		return "reboot"
	case Suspend:
		return "suspend"
	case Crash:
		return "crash"
	case Watchdog:
		return "watchdog"
	case Destroyed:
		return "destroyed"
	}
	return fmt.Sprintf("ExitReason(%d)", int(r))
}

// ZoneState is a zone's state as the hypervisor reports it.
type ZoneState int

// The states of a zone.
const (
	Creating ZoneState = C.EDERA_ZONE_CREATING
	Running  ZoneState = C.EDERA_ZONE_RUNNING
	Paused   ZoneState = C.EDERA_ZONE_PAUSED
	Shutdown ZoneState = C.EDERA_ZONE_SHUTDOWN // stopped, being cleaned up
	Exited   ZoneState = C.EDERA_ZONE_EXITED   // gone; only the handle is left
)

func (s ZoneState) String() string {
	switch s {
	case Creating:
		return "creating"
	case Running:
		return "running"
	case Paused:
		return "paused"
	case Shutdown:
		return "shutdown"
	case Exited:
		return "exited"
	}
	return fmt.Sprintf("ZoneState(%d)", int(s))
}

// ZoneInfo is what the hypervisor says about a zone now.
type ZoneInfo struct {
	Domid           uint32
	State           ZoneState
	MemoryKiB       uint64 // pages the domain holds now
	MaxMemoryKiB    uint64
	VCPUsOnline     uint32
	MaxVCPUs        uint32
	CPUTime         time.Duration // all vCPUs together
	TargetMemoryKiB uint64        // what SetMemory last asked
	VCPUsTarget     uint32        // what SetVCPUs last asked
}

// Zone is a handle of a zone of the Context.  It stays usable until
// Destroy completes or the Context closes (then its methods return ErrGone
// or ErrClosed); the zone itself keeps running after its Context closes.
type Zone struct {
	c       *Context
	name    string
	renamed atomic.Value // string: the name of the run that took it as a spare
	uuid    string
	domid   uint32

	z   *C.edera_zone // loop goroutine only; nil once freed
	h   cgo.Handle    // the exit callback's
	gen bool          // z and h are live (loop goroutine only)

	exitOnce sync.Once
	exited   chan struct{}
	mu       sync.Mutex
	reason   ExitReason
	hasExit  bool

	// console (loop goroutine only)
	readers  map[*Console]struct{}
	wh       cgo.Handle // the writable callback's; 0 if unset
	writable chan struct{}
	wlock    chan struct{} // one writer at a time (a one-slot semaphore)

	evtchns map[*EventChannel]struct{} // loop goroutine only
	chans   map[*Channel]struct{}      // loop goroutine only
	procs   map[*Process]struct{}      // a workload's processes (loop goroutine only)
	wl      *Workload                  // the workload run in it, if any

	gone chan struct{} // closed when the handle is freed
}

// UUID and Domid are fixed for a zone's life; so is Name, but for a spare
// zone (Context.Spare) a run of the same Context takes: it then has the
// run's name.
func (z *Zone) Name() string { return z.nameNow() }

// nameNow is the zone's name: the one it was created with, or the run's
// that took it as a spare (renamed on the loop goroutine).
func (z *Zone) nameNow() string {
	if n, ok := z.renamed.Load().(string); ok {
		return n
	}
	return z.name
}

// UUID is the zone's UUID (36 characters), also its Xen handle.
func (z *Zone) UUID() string { return z.uuid }

// Domid is the zone's Xen domain id.
func (z *Zone) Domid() uint32 { return z.domid }

func (z *Zone) String() string { return fmt.Sprintf("zone %s (domain %d)", z.nameNow(), z.domid) }

// Exited is closed when the zone stops on its own (or is shut down):
// ExitReason then says why.  It is not closed by Destroy, nor when the
// Context closes (the zone keeps running then).
func (z *Zone) Exited() <-chan struct{} { return z.exited }

// ExitReason is why the zone stopped, and whether it has.
func (z *Zone) ExitReason() (ExitReason, bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.reason, z.hasExit
}

// wrapZone gives the one *Zone of a C zone, making it (and setting its exit
// callback) the first time (loop goroutine).
func (c *Context) wrapZone(cz *C.edera_zone) *Zone {
	if z, ok := c.zones[cz]; ok {
		return z
	}
	z := &Zone{c: c, z: cz, exited: make(chan struct{}), writable: make(chan struct{}, 1),
		wlock:   make(chan struct{}, 1),
		gone:    make(chan struct{}),
		readers: map[*Console]struct{}{},
		name:    C.GoString(C.edera_zone_name(cz)),
		uuid:    C.GoString(C.edera_zone_uuid(cz)),
		domid:   uint32(C.edera_zone_domid(cz))}
	z.h = newHandle(z)
	z.gen = true
	C.edgo_zone_on_exit(cz, C.uintptr_t(z.h))
	c.zones[cz] = z
	return z
}

// freed: the C handle is gone (destroyed, or the context closed) (loop
// goroutine, or the loop goroutine's last steps).
func (z *Zone) freed() {
	if !z.gen {
		return
	}
	for r := range z.readers {
		r.release()
	}
	z.readers = nil
	if z.wh != 0 {
		deleteHandle(z.wh)
		z.wh = 0
	}
	for ch := range z.evtchns {
		ch.release()
	}
	z.evtchns = nil
	for ch := range z.chans {
		ch.release()
	}
	z.chans = nil
	for p := range z.procs {
		p.release(ErrGone)
	}
	z.procs = nil
	if z.wl != nil {
		z.wl.wl = nil
	}
	for cd, d := range z.c.devices {
		if d.zone == z {
			d.dev = nil
			delete(z.c.devices, cd)
		}
	}
	delete(z.c.zones, z.z)
	deleteHandle(z.h)
	z.gen = false
	z.z = nil
	close(z.gone)
}

//export goZoneExit
func goZoneExit(h C.uintptr_t, reason C.int) {
	z := cgo.Handle(h).Value().(*Zone)
	z.mu.Lock()
	z.reason = ExitReason(reason)
	z.hasExit = true
	z.mu.Unlock()
	for r := range z.readers {
		r.end(nil) // the last output was delivered before this
	}
	z.exitOnce.Do(func() { close(z.exited) })
}

// onLoop runs F with the live C zone on the loop goroutine; ErrGone if the
// handle was freed, ErrClosed if the context is closed.
func (z *Zone) onLoop(goctx context.Context, f func(cz *C.edera_zone) error) error {
	return z.c.do(goctx, func() error {
		if !z.gen {
			return ErrGone
		}
		return f(z.z)
	})
}

// startOn is Context.start for a call on the live zone.
func (z *Zone) startOn(goctx context.Context, p *pending,
	call func(cz *C.edera_zone, h C.uintptr_t, e *C.edgo_err) C.int) (result, error) {
	return z.c.start(goctx, p, func(h C.uintptr_t, e *C.edgo_err) C.int {
		if !z.gen {
			return rcGone
		}
		return call(z.z, h, e)
	})
}

// CreateZone creates a zone and starts it (unless cfg.StartPaused): it
// returns once the domain runs (and its devices are connected).  On failure
// nothing is left behind.  Cancelling GOCTX ends the wait with its error;
// the creation then completes in the library and the zone is destroyed at
// once it completes (which may take until its devices connect), so it
// leaves no domain either; if the Context closes first, the domain still
// goes but its XenStore nodes wait for the next Reattach.
//
// Errors: ErrInvalid (bad config: the message says what), ErrExists (name
// in use), ErrNotFound (kernel or initrd missing), ErrNoMemory (not enough
// free memory), ...
func (c *Context) CreateZone(goctx context.Context, cfg ZoneConfig) (*Zone, error) {
	if err := cfg.Validate(); err != nil {
		err.(*Error).Op = "CreateZone"
		return nil, err
	}
	cc := cfg.toC()
	defer cc.free()
	p := newPending("CreateZone")
	p.cleanup = c.undoIfAbandoned("CreateZone")
	r, err := c.start(goctx, p, func(h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_zone_create(c.ctx, cc.cfg, h, e)
	})
	if err != nil {
		return nil, err
	}
	return r.zone, nil
}

// undoIfAbandoned is the cleanup of an operation OP whose result is a new
// zone: destroyed when its waiter gave up.
func (c *Context) undoIfAbandoned(op string) func(r *result) {
	return func(r *result) {
		if cz := (*C.edera_zone)(r.ptr); cz != nil {
			c.undoCreated(cz, op+" (cancelled)")
		}
	}
}

// undoCreated destroys a zone whose creator gave up waiting for it (loop
// goroutine); if that fails, the zone is handed out in Zones, to be
// destroyed again.
func (c *Context) undoCreated(cz *C.edera_zone, op string) {
	d := newPending(op)
	d.c = c
	c.undoing[cz] = true
	d.always = func(r *result) {
		delete(c.undoing, cz)
		if z, ok := c.zones[cz]; ok && r.err == nil {
			z.freed()
		} else if r.err != nil {
			c.wrapZone(cz)
		}
	}
	h := newHandle(d)
	if C.edgo_zone_destroy(cz, C.uintptr_t(h), c.loopErr()) < 0 {
		deleteHandle(h)
		delete(c.undoing, cz)
		c.wrapZone(cz)
	}
}

//export goZoneCreated
func goZoneCreated(h C.uintptr_t, status C.int, msg *C.char, cz *C.edera_zone) {
	p := takePending(h)
	r := result{err: cbErr(p.op, status, msg), ptr: unsafe.Pointer(cz)}
	if status >= 0 {
		// wrap before anything else runs, so an exit in the same turn is seen
		p.mu.Lock()
		abandoned := p.abandoned
		p.mu.Unlock()
		if !abandoned {
			r.zone = p.c.wrapZone(cz)
		}
	}
	p.complete(r)
}

// cConfigFields prints the C config CFG makes, for the tests (cgo cannot
// be used in _test.go files).
func cConfigFields(cfg *ZoneConfig) string {
	cc := cfg.toC()
	defer cc.free()
	c := cc.cfg
	s := func(p *C.char) string {
		if p == nil {
			return "<nil>"
		}
		return C.GoString(p)
	}
	out := fmt.Sprintf("%s %s %s %s %d %d %d %d %d %d %d %s %d %d [", s(c.name), s(c.kernel),
		s(c.initrd), s(c.cmdline), c.memory_mib, c.max_memory_mib, c.vcpus, c.max_vcpus,
		c.start_paused, c.console_mode, c.console_history_kib, s(c.console_log),
		c.console_log_max_kib, c.device_timeout_ms)
	disks := unsafe.Slice(c.disks, int(c.n_disks))
	for i, d := range disks {
		if i > 0 {
			out += "; "
		}
		out += fmt.Sprintf("%s %s %d", s(d.path), s(d.vdev), d.readonly)
	}
	out += "] ["
	nics := unsafe.Slice(c.nics, int(c.n_nics))
	for i, n := range nics {
		if i > 0 {
			out += "; "
		}
		out += fmt.Sprintf("%s %s %d", s(n.bridge), s(n.mac), n.mtu)
	}
	return out + "]"
}
