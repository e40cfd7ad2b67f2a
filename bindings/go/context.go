// SPDX-License-Identifier: LGPL-2.1-or-later

package edera

// #cgo pkg-config: edera libuv
// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"context"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Options configure Open.  The zero value gives the defaults.
type Options struct{}

// Context is an open libedera context: the hypervisor handles, the XenStore
// connection and the event loop everything runs on.  The loop runs on a
// goroutine of its own locked to one OS thread; every method hands its work
// to that goroutine and waits for the result, so all methods of a Context
// and of the handles it gives (zones, consoles, devices, watches, shares,
// event channels) are safe for concurrent use from any goroutine.
//
// Close it when done: the zones it created keep running (another Context,
// in this process or another, takes them over with Reattach).
type Context struct {
	mu     sync.Mutex
	queue  []func(live bool)
	closed bool
	lp     *C.edgo_loop
	ctx    *C.edera_ctx
	h      cgo.Handle
	done   chan struct{} // closed when the loop goroutine has finished

	// Only on the loop goroutine:
	zones   map[*C.edera_zone]*Zone
	devices map[*C.edera_device]*Device
	watches map[*Watch]struct{}
	undoing map[*C.edera_zone]bool // zones a cancelled CreateZone is destroying
}

// handles counts the runtime/cgo.Handles the package holds: a leak shows
// as a count that keeps growing (see HandleCount).
var handles int64

func newHandle(v interface{}) cgo.Handle {
	atomic.AddInt64(&handles, 1)
	return cgo.NewHandle(v)
}

func deleteHandle(h cgo.Handle) {
	h.Delete() // panics if H was deleted already
	atomic.AddInt64(&handles, -1)
}

// HandleCount is the number of callback registrations (runtime/cgo
// handles) the package holds now, for all contexts: one per open Context,
// operation in flight, zone (and one more for a zone written to), console
// reader, watch and event channel.  For leak checks.
func HandleCount() int {
	return int(atomic.LoadInt64(&handles))
}

// Open opens a context: it checks that this is Xen's control domain, opens
// the hypervisor interfaces and connects to XenStore, on a new goroutine
// locked to its OS thread that runs the loop until Close.
//
// Errors: ErrNoXen (no Xen, or not dom0), ErrXenVersion, ErrAccess (not
// root), ErrNoMemory, ErrIO.
func Open(opts Options) (*Context, error) {
	c := &Context{done: make(chan struct{}),
		zones:   map[*C.edera_zone]*Zone{},
		devices: map[*C.edera_device]*Device{},
		watches: map[*Watch]struct{}{},
		undoing: map[*C.edera_zone]bool{}}
	opened := make(chan error, 1)
	go c.run(opened)
	if err := <-opened; err != nil {
		return nil, err
	}
	return c, nil
}

// run is the loop goroutine.
func (c *Context) run(opened chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(c.done)
	var e C.edgo_err
	c.h = newHandle(c)
	if rc := C.edgo_open(&c.lp, &c.ctx, C.uintptr_t(c.h), &e); rc < 0 {
		deleteHandle(c.h)
		opened <- errOf("Open", &e)
		return
	}
	opened <- nil
	C.edgo_run(c.lp)
	// Close asked to stop: no new work is queued (c.closed).  Closing the
	// context completes what is in flight (with ErrCanceled) through the
	// callbacks, which still run on this goroutine.
	C.edgo_close(c.lp, c.ctx)
	c.lp, c.ctx = nil, nil
	for _, z := range c.zones {
		z.freed()
	}
	for w := range c.watches {
		w.release()
	}
	deleteHandle(c.h)
	c.mu.Lock()
	q := c.queue
	c.queue = nil
	c.mu.Unlock()
	for _, f := range q {
		f(false)
	}
}

//export goDrain
func goDrain(h C.uintptr_t) {
	c := cgo.Handle(h).Value().(*Context)
	for {
		c.mu.Lock()
		q := c.queue
		c.queue = nil
		closing := c.closed
		c.mu.Unlock()
		if len(q) == 0 {
			if closing {
				C.edgo_stop(c.lp)
			}
			return
		}
		for _, f := range q {
			f(true)
		}
	}
}

// post queues F to run on the loop goroutine: F(true) there, or F(false)
// if the context closed before it could run.
func (c *Context) post(f func(live bool)) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		f(false)
		return
	}
	c.queue = append(c.queue, f)
	C.edgo_wake(c.lp)
	c.mu.Unlock()
}

// Close closes the context: operations in flight end (with ErrCanceled;
// ErrClosed for those not started yet; a Destroy or Detach under way with
// its outcome), watches, console readers and event channels end, zone
// handles are freed — and with them the memory of their Shares — while
// the zones themselves keep running (see Reattach).  It waits for the loop
// to finish.  Calling it again does nothing.
func (c *Context) Close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		C.edgo_wake(c.lp)
	}
	c.mu.Unlock()
	<-c.done
	return nil
}

// Done is closed once the context is closed and its loop has finished.
func (c *Context) Done() <-chan struct{} {
	return c.done
}

// do runs F on the loop goroutine and waits for it: for the calls that
// complete at once (no callback).  ErrClosed if the context is closed.  If
// GOCTX is done before F has started, F never runs and the wait ends with
// GOCTX's error; once F runs (it does not block) its result is awaited, so
// the memory F uses is the caller's until do returns.
func (c *Context) do(goctx context.Context, f func() error) error {
	var mu sync.Mutex
	skip, started := false, false
	ch := make(chan error, 1)
	c.post(func(live bool) {
		if !live {
			ch <- ErrClosed
			return
		}
		mu.Lock()
		if skip {
			mu.Unlock()
			return
		}
		started = true
		mu.Unlock()
		ch <- f()
	})
	select {
	case err := <-ch:
		return err
	case <-goctx.Done():
	}
	mu.Lock()
	if !started {
		skip = true
		mu.Unlock()
		select {
		case err := <-ch: // (closed meanwhile: ErrClosed came)
			return err
		default:
		}
		return ctxErr("", goctx)
	}
	mu.Unlock()
	return <-ch
}

// errOf turns the error a C call copied into E into an *Error.
func errOf(op string, e *C.edgo_err) *Error {
	return newError(op, int(e.code), C.GoString(&e.msg[0]))
}

// loopErr is the loop's own error buffer (loop goroutine only).
func (c *Context) loopErr() *C.edgo_err {
	return C.edgo_loop_err(c.lp)
}

// result is what a callback delivers to the waiting goroutine.
type result struct {
	err   error
	u64   uint64
	a, b  uint
	ptr   unsafe.Pointer
	value []byte
	names []string
	perms []Perm
	host  HostInfo
	zone  *Zone
	dev   *Device
	cb    bool // delivered by the library's callback (not a failure at once)
}

// pending is an operation in flight: its callback completes it (on the
// loop goroutine); the waiter may give up first (its context was
// cancelled), and then CLEANUP undoes what the late result holds.
type pending struct {
	op        string
	c         *Context
	z         *Zone
	mu        sync.Mutex
	done      chan struct{}
	issued    chan struct{} // closed once the C call returned (if started)
	res       result
	started   bool // the C call was made (or is being made)
	finished  bool
	abandoned bool
	cleanup   func(r *result) // on the loop goroutine, for an abandoned result
	always    func(r *result) // on the loop goroutine, before the result is delivered
	hval      interface{}     // what the callback's handle holds (nil: this pending)
}

func newPending(op string) *pending {
	return &pending{op: op, done: make(chan struct{}), issued: make(chan struct{})}
}

// complete delivers R (loop goroutine).
func (p *pending) complete(r result) {
	if p.always != nil {
		p.always(&r)
	}
	p.mu.Lock()
	if p.abandoned {
		p.mu.Unlock()
		if p.cleanup != nil && r.err == nil {
			p.cleanup(&r)
		}
		return
	}
	p.res = r
	p.finished = true
	p.mu.Unlock()
	close(p.done)
}

// begin is called on the loop goroutine before the C call: false if the
// waiter already gave up (then the call is not made).  After a true, the
// caller closes p.issued once the C call has returned.
func (p *pending) begin() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.abandoned {
		return false
	}
	p.started = true
	return true
}

// rcGone is what a call function returns when the handle it was to use was
// freed (the library never returns it).
const rcGone = C.int(-0x7ffffff0)

// start runs CALL on the loop goroutine with the handle of a pending
// operation, then waits for its callback, or for GOCTX.  CALL returns the C
// call's code; on failure it has filled the loop's error buffer.  The
// memory CALL uses stays the caller's until start returns: a wait given up
// before the call was made skips it, one given up during it waits for the
// call to return.
func (c *Context) start(goctx context.Context, p *pending,
	call func(h C.uintptr_t, e *C.edgo_err) C.int) (result, error) {
	p.c = c
	c.post(func(live bool) {
		if !live {
			p.complete(result{err: ErrClosed})
			return
		}
		if !p.begin() {
			return
		}
		defer close(p.issued)
		var h cgo.Handle
		if p.hval != nil {
			h = newHandle(p.hval)
		} else {
			h = newHandle(p)
		}
		e := c.loopErr()
		if rc := call(C.uintptr_t(h), e); rc < 0 {
			deleteHandle(h)
			if rc == rcGone {
				p.complete(result{err: ErrGone})
			} else {
				p.complete(result{err: errOf(p.op, e)})
			}
		}
	})
	return p.wait(goctx)
}

func (p *pending) wait(goctx context.Context) (result, error) {
	select {
	case <-p.done:
		return p.res, p.res.err
	case <-goctx.Done():
	}
	p.mu.Lock()
	if p.finished {
		p.mu.Unlock()
		return p.res, p.res.err
	}
	p.abandoned = true
	started := p.started
	p.mu.Unlock()
	if started {
		<-p.issued
	}
	return result{}, ctxErr(p.op, goctx)
}

// takePending is how a one-shot callback finds its operation: the handle
// is deleted here, exactly once.
func takePending(h C.uintptr_t) *pending {
	ch := cgo.Handle(h)
	p := ch.Value().(*pending)
	deleteHandle(ch)
	return p
}

// cbErr is the error a callback's STATUS and MSG give, or nil.
func cbErr(op string, status C.int, msg *C.char) error {
	if status >= 0 {
		return nil
	}
	return newError(op, int(status), C.GoString(msg))
}

// timeoutMs turns GOCTX's deadline into the library's timeout argument: 0
// (the library's default, or forever where it has none) without one.
func timeoutMs(goctx context.Context, def time.Duration) C.uint {
	d, ok := goctx.Deadline()
	if !ok {
		return C.uint(def / time.Millisecond)
	}
	ms := time.Until(d) / time.Millisecond
	if ms < 1 {
		ms = 1
	}
	if ms > 1<<31 {
		ms = 1 << 31
	}
	return C.uint(ms)
}

// byDeadline marks the library's ErrTimedOut of a call whose timeout came
// from GOCTX's deadline (timeoutMs) as context.DeadlineExceeded too.
func byDeadline(goctx context.Context, err error) error {
	if e, ok := err.(*Error); ok && e.Code == C.EDERA_ETIMEDOUT {
		if _, has := goctx.Deadline(); has {
			e.deadline = true
		}
	}
	return err
}

// cstr is a C copy of S, freed by the caller with C.free.
func cstr(s string) *C.char {
	return C.CString(s)
}

func free(p *C.char) {
	C.free(unsafe.Pointer(p))
}
