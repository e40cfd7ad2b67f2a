// SPDX-License-Identifier: LGPL-2.1-or-later

package edera

// #include "shim.h"
import "C"

import (
	"context"
	"time"
)

// ShutdownMode is what Shutdown asks the guest for.
type ShutdownMode int

// Shutdown modes.
const (
	PowerOffMode ShutdownMode = 0 // writes "poweroff"
	RebootMode   ShutdownMode = 1 // writes "reboot" (the zone stops with reason Reboot)
)

// Shutdown asks the zone's kernel to stop (control/shutdown, which a PV
// kernel watches) and waits until it has, returning why it stopped (the
// guest may crash instead).  If GOCTX has a deadline the library stops
// waiting then and the error is ErrTimedOut (also context.DeadlineExceeded):
// the zone may still be running; Destroy it.  Cancelling GOCTX ends the
// wait; the request stays with the guest (without a deadline, until the
// zone stops: a later Shutdown gets ErrBusy until then).  One shutdown at a
// time per zone (ErrBusy).
func (z *Zone) Shutdown(goctx context.Context, mode ShutdownMode) (ExitReason, error) {
	if mode != PowerOffMode && mode != RebootMode {
		return 0, invalid("Shutdown", "mode %d is neither PowerOffMode nor RebootMode", mode)
	}
	p := newPending("Shutdown")
	// the library stops waiting at the context's deadline too
	ms := timeoutMs(goctx, 0)
	_, err := z.startOn(goctx, p, func(cz *C.edera_zone, h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_zone_shutdown(cz, C.int(mode), ms, h, e)
	})
	if err != nil {
		return 0, byDeadline(goctx, err)
	}
	// the exit event runs in the same loop turn as the callback
	select {
	case <-z.exited:
	case <-goctx.Done():
		return 0, ctxErr("Shutdown", goctx)
	}
	r, _ := z.ExitReason()
	return r, nil
}

// Destroy destroys the zone's domain (if still there), removes its
// XenStore nodes and frees the handle.  For a zone that stopped on its own
// it only frees the handle.  Cancelling GOCTX ends the wait; the
// destruction goes on.  Errors: ErrBusy (already being destroyed), ErrGone.
func (z *Zone) Destroy(goctx context.Context) error {
	p := newPending("Destroy")
	p.always = func(r *result) {
		if r.err == nil {
			z.freed() // the C handle is freed right after the callback
		}
	}
	_, err := z.startOn(goctx, p, func(cz *C.edera_zone, h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_zone_destroy(cz, h, e)
	})
	return err
}

//export goDone
func goDone(h C.uintptr_t, status C.int, msg *C.char) {
	p := takePending(h)
	p.complete(result{err: cbErr(p.op, status, msg), cb: true})
}

// Info asks the hypervisor about the zone now.
func (z *Zone) Info(goctx context.Context) (ZoneInfo, error) {
	var info ZoneInfo
	err := z.onLoop(goctx, func(cz *C.edera_zone) error {
		var ci C.edera_zone_info
		if C.edgo_zone_info(cz, &ci, z.c.loopErr()) < 0 {
			return errOf("Info", z.c.loopErr())
		}
		info = ZoneInfo{Domid: uint32(ci.domid), State: ZoneState(ci.state),
			MemoryKiB: uint64(ci.memory_kib), MaxMemoryKiB: uint64(ci.max_memory_kib),
			VCPUsOnline: uint32(ci.vcpus_online), MaxVCPUs: uint32(ci.max_vcpus),
			CPUTime:         time.Duration(ci.cpu_time_ns),
			TargetMemoryKiB: uint64(ci.target_memory_kib), VCPUsTarget: uint32(ci.vcpus_target)}
		return nil
	})
	return info, err
}

// Pause stops the zone's vCPUs from running.
func (z *Zone) Pause(goctx context.Context) error {
	return z.onLoop(goctx, func(cz *C.edera_zone) error {
		if C.edgo_zone_pause(cz, 1, z.c.loopErr()) < 0 {
			return errOf("Pause", z.c.loopErr())
		}
		return nil
	})
}

// Unpause lets a paused zone run (also one created with StartPaused).
func (z *Zone) Unpause(goctx context.Context) error {
	return z.onLoop(goctx, func(cz *C.edera_zone) error {
		if C.edgo_zone_pause(cz, 0, z.c.loopErr()) < 0 {
			return errOf("Unpause", z.c.loopErr())
		}
		return nil
	})
}

// SetMemory asks the zone to hold targetMiB of memory (its balloon driver
// gives pages back or takes more, up to MaxMemoryMiB) and waits until Xen
// counts its pages there, returning what it holds.  With a deadline on
// GOCTX the library stops waiting then (ErrTimedOut; the request stays,
// the guest may still get there); without one, after 30 s.  A newer request
// replaces this one (ErrCanceled).  Errors at once: ErrInvalid (target out
// of bounds: the message says them), ErrNoMemory (the host has not enough
// free: the message says how much is).
func (z *Zone) SetMemory(goctx context.Context, targetMiB uint64) (reachedKiB uint64, err error) {
	p := newPending("SetMemory")
	ms := timeoutMs(goctx, 0)
	r, err := z.startOn(goctx, p, func(cz *C.edera_zone, h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_zone_set_memory(cz, C.uint64_t(targetMiB), ms, h, e)
	})
	return r.u64, byDeadline(goctx, err)
}

//export goMemory
func goMemory(h C.uintptr_t, status C.int, msg *C.char, kib C.uint64_t) {
	p := takePending(h)
	p.complete(result{err: cbErr(p.op, status, msg), u64: uint64(kib)})
}

// SetVCPUs brings vCPUs online or offline so that ONLINE of them run (1
// to MaxVCPUs), and waits until Xen counts them (deadline and replacement
// as SetMemory).  A Linux guest onlines an added vCPU only with a udev rule
// that does (Debian's 40-vm-hotadd.rules); without one growing times out.
func (z *Zone) SetVCPUs(goctx context.Context, online uint32) error {
	p := newPending("SetVCPUs")
	ms := timeoutMs(goctx, 0)
	_, err := z.startOn(goctx, p, func(cz *C.edera_zone, h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_zone_set_vcpus(cz, C.uint32_t(online), ms, h, e)
	})
	return byDeadline(goctx, err)
}

// Zones lists the context's zones: those it created (once CreateZone has
// returned them) and those it took over with Reattach.  Creations still
// under way are not listed.
func (c *Context) Zones(goctx context.Context) ([]*Zone, error) {
	var zs []*Zone
	err := c.do(goctx, func() error {
		for cz := C.edera_zone_next(c.ctx, nil); cz != nil; cz = C.edera_zone_next(c.ctx, cz) {
			if z, ok := c.zones[cz]; ok {
				zs = append(zs, z)
			}
		}
		return nil
	})
	return zs, err
}

// lookup: only zones the Go layer has handed out (a C zone it has not
// wrapped is a creation under way).
func (c *Context) lookup(goctx context.Context, op string, find func() *C.edera_zone) (*Zone, error) {
	var z *Zone
	err := c.do(goctx, func() error {
		if cz := find(); cz != nil {
			if z = c.zones[cz]; z != nil {
				return nil
			}
		}
		return &Error{Code: C.EDERA_ENOENT, Op: op, Message: "no such zone in this context"}
	})
	return z, err
}

// Zone finds a zone of the context by name (ErrNotFound if none).
func (c *Context) Zone(goctx context.Context, name string) (*Zone, error) {
	cs := cstr(name)
	defer free(cs)
	return c.lookup(goctx, "Zone", func() *C.edera_zone { return C.edera_zone_lookup(c.ctx, cs) })
}

// ZoneByDomid finds a zone of the context by its domain id.
func (c *Context) ZoneByDomid(goctx context.Context, domid uint32) (*Zone, error) {
	return c.lookup(goctx, "ZoneByDomid", func() *C.edera_zone {
		return C.edera_zone_lookup_domid(c.ctx, C.uint32_t(domid))
	})
}

// ZoneByUUID finds a zone of the context by its UUID.
func (c *Context) ZoneByUUID(goctx context.Context, uuid string) (*Zone, error) {
	cs := cstr(uuid)
	defer free(cs)
	return c.lookup(goctx, "ZoneByUUID", func() *C.edera_zone { return C.edera_zone_lookup_uuid(c.ctx, cs) })
}

// Reattach takes over the zones libedera left running on this host (after
// this process or another exited without destroying them): running ones
// get handles in this context (see Zones), stopped ones are destroyed,
// stale XenStore markers and creations cut short by a dead process are
// cleaned up.  It returns how many zones it took over and how many it
// cleaned.  Cancelling GOCTX ends the wait; the re-attach goes on.
func (c *Context) Reattach(goctx context.Context) (attached, cleaned int, err error) {
	p := newPending("Reattach")
	r, err := c.start(goctx, p, func(h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_zone_reattach(c.ctx, h, e)
	})
	return int(r.a), int(r.b), err
}

//export goReattached
func goReattached(h C.uintptr_t, status C.int, msg *C.char, a, b C.uint) {
	p := takePending(h)
	c := p.c
	// exit callbacks on every zone taken over, before anything else runs,
	// even when a later step failed (the zones adopted before it are
	// there); not the creations under way (handed out when they complete)
	// nor the zones a cancelled creation is undoing
	for cz := C.edera_zone_next(c.ctx, nil); cz != nil; cz = C.edera_zone_next(c.ctx, cz) {
		if _, ok := c.zones[cz]; !ok && !c.undoing[cz] && C.edgo_zone_creating(cz) == 0 {
			c.wrapZone(cz)
		}
	}
	p.complete(result{err: cbErr(p.op, status, msg), a: uint(a), b: uint(b)})
}
