// SPDX-License-Identifier: LGPL-2.1-or-later

package edera

// #include "shim.h"
import "C"

import "context"

// PoolStats is what a context's pool has of one shape (see SetPool).
type PoolStats struct {
	Shells    uint32 // the count asked for
	Ready     uint32 // shells ready now
	Filling   uint32 // shells being made
	Taken     uint64 // creations that took a shell
	Missed    uint64 // creations of the shape that found none ready
	Reclaimed uint64 // shells destroyed to give their memory to a creation
	Failed    uint64 // shells that could not be made
	LastError string // why the last one failed, or ""
}

// SetPool keeps shells prepared zone shells of memoryMiB and vcpus (0: 1)
// ready in the background: a CreateZone of exactly that memory and those
// vCPUs (MaxMemoryMiB and MaxVCPUs 0 or equal) takes one and only loads
// its kernel.  Shells are invisible, give their memory back when a
// creation lacks it, and go with Close; a crashed process's are removed
// by Reattach.  shells 0 removes the shape (libedera's edera/pool.h).
func (c *Context) SetPool(goctx context.Context, memoryMiB, vcpus, shells uint32) error {
	return c.do(goctx, func() error {
		if C.edgo_pool_set(c.ctx, C.uint32_t(memoryMiB), C.uint32_t(vcpus), C.uint32_t(shells),
			c.loopErr()) < 0 {
			return errOf("SetPool", c.loopErr())
		}
		return nil
	})
}

// Pool says what the pool has of the shape memoryMiB, vcpus (0: 1) now;
// ErrNotFound when there is no such shape.
func (c *Context) Pool(goctx context.Context, memoryMiB, vcpus uint32) (PoolStats, error) {
	var s PoolStats
	err := c.do(goctx, func() error {
		var st C.edera_pool_stats
		if C.edgo_pool_stats(c.ctx, C.uint32_t(memoryMiB), C.uint32_t(vcpus), &st,
			c.loopErr()) < 0 {
			return errOf("Pool", c.loopErr())
		}
		s = PoolStats{Shells: uint32(st.shells), Ready: uint32(st.ready),
			Filling: uint32(st.filling), Taken: uint64(st.taken), Missed: uint64(st.missed),
			Reclaimed: uint64(st.reclaimed), Failed: uint64(st.failed),
			LastError: C.GoString(&st.last_error[0])}
		return nil
	})
	return s, err
}
