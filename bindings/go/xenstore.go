// SPDX-License-Identifier: LGPL-2.1-or-later

package edera

// #include <stdlib.h>
// #include <string.h>
// #include "shim.h"
import "C"

import (
	"context"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// Perm is one entry of a XenStore node's permissions: the first entry of a
// list names the owner (who may do anything) and the access of every
// domain not listed; later entries grant access to particular domains.
type Perm struct {
	Domid uint32
	Bits  PermBits
}

// PermBits is the access a Perm grants.
type PermBits uint32

// Access bits.
const (
	PermNone  PermBits = C.EDERA_XS_PERM_NONE
	PermRead  PermBits = C.EDERA_XS_PERM_READ
	PermWrite PermBits = C.EDERA_XS_PERM_WRITE
	PermBoth  PermBits = C.EDERA_XS_PERM_BOTH
)

// Txn is a XenStore transaction in progress, given to the body of
// Context.Transaction; its methods are the Context's XenStore methods,
// inside the transaction.  It is valid only while the body runs.
type Txn struct {
	c       *Context
	t       *C.edera_xs_txn // loop goroutine only
	attempt int
	mu      sync.Mutex
	ended   bool
}

// Attempt is which attempt this is (1, 2, ... : the body runs again after
// a conflict).
func (t *Txn) Attempt() int { return t.attempt }

// ctxt gives the C transaction (nil outside any) on the loop goroutine, or
// an error if the body already returned.
func (t *Txn) ctxt() (*C.edera_xs_txn, bool) {
	if t == nil {
		return nil, true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.t, !t.ended
}

func xsCall(goctx context.Context, c *Context, t *Txn, op, path string,
	call func(ct *C.edera_xs_txn, cp *C.char, h C.uintptr_t, e *C.edgo_err) C.int) (result, error) {
	cp := cstr(path)
	defer free(cp)
	p := newPending(op)
	return c.start(goctx, p, func(h C.uintptr_t, e *C.edgo_err) C.int {
		ct, ok := t.ctxt()
		if !ok {
			e.code = C.EDERA_EINVAL
			msg := "the transaction is over: use a Txn only inside its body"
			C.strncpy(&e.msg[0], cstrTmp(msg), C.size_t(len(e.msg)-1))
			return -1
		}
		return call(ct, cp, h, e)
	})
}

// cstrTmp: a C copy of a constant message, kept for the process's life
// (there are few of them).
var tmpStrs sync.Map

func cstrTmp(s string) *C.char {
	if v, ok := tmpStrs.Load(s); ok {
		return v.(*C.char)
	}
	v, _ := tmpStrs.LoadOrStore(s, C.CString(s))
	return v.(*C.char)
}

func read(goctx context.Context, c *Context, t *Txn, path string) ([]byte, error) {
	r, err := xsCall(goctx, c, t, "Read", path, func(ct *C.edera_xs_txn, cp *C.char, h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_xs_read(c.ctx, ct, cp, h, e)
	})
	return r.value, err
}

func write(goctx context.Context, c *Context, t *Txn, path string, value []byte) error {
	cv := C.CBytes(value)
	defer C.free(cv)
	_, err := xsCall(goctx, c, t, "Write", path, func(ct *C.edera_xs_txn, cp *C.char, h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_xs_write(c.ctx, ct, cp, cv, C.size_t(len(value)), h, e)
	})
	return err
}

func mkdir(goctx context.Context, c *Context, t *Txn, path string) error {
	_, err := xsCall(goctx, c, t, "Mkdir", path, func(ct *C.edera_xs_txn, cp *C.char, h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_xs_mkdir(c.ctx, ct, cp, h, e)
	})
	return err
}

func remove(goctx context.Context, c *Context, t *Txn, path string) error {
	_, err := xsCall(goctx, c, t, "Remove", path, func(ct *C.edera_xs_txn, cp *C.char, h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_xs_rm(c.ctx, ct, cp, h, e)
	})
	return err
}

func list(goctx context.Context, c *Context, t *Txn, path string) ([]string, error) {
	r, err := xsCall(goctx, c, t, "List", path, func(ct *C.edera_xs_txn, cp *C.char, h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_xs_directory(c.ctx, ct, cp, h, e)
	})
	return r.names, err
}

func perms(goctx context.Context, c *Context, t *Txn, path string) ([]Perm, error) {
	r, err := xsCall(goctx, c, t, "Perms", path, func(ct *C.edera_xs_txn, cp *C.char, h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_xs_get_perms(c.ctx, ct, cp, h, e)
	})
	return r.perms, err
}

func setPerms(goctx context.Context, c *Context, t *Txn, path string, ps []Perm) error {
	if len(ps) == 0 || len(ps) > 64 {
		return invalid("SetPerms", "%d permission entries: give 1 to 64 (the first names the owner)", len(ps))
	}
	cps := (*[64]C.edera_xs_perm)(C.calloc(C.size_t(len(ps)), C.sizeof_edera_xs_perm))
	defer C.free(unsafe.Pointer(cps))
	for i, p := range ps {
		cps[i].domid = C.uint32_t(p.Domid)
		cps[i].perm = C.uint32_t(p.Bits)
	}
	_, err := xsCall(goctx, c, t, "SetPerms", path, func(ct *C.edera_xs_txn, cp *C.char, h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_xs_set_perms(c.ctx, ct, cp, &cps[0], C.size_t(len(ps)), h, e)
	})
	return err
}

//export goValue
func goValue(h C.uintptr_t, status C.int, msg *C.char, v *C.char, n C.size_t) {
	p := takePending(h)
	r := result{err: cbErr(p.op, status, msg)}
	if status >= 0 {
		r.value = C.GoBytes(unsafe.Pointer(v), C.int(n))
	}
	p.complete(r)
}

//export goList
func goList(h C.uintptr_t, status C.int, msg *C.char, names **C.char, n C.size_t) {
	p := takePending(h)
	r := result{err: cbErr(p.op, status, msg)}
	if status >= 0 {
		r.names = make([]string, int(n))
		for i := range r.names {
			r.names[i] = C.GoString(C.edgo_str_at(names, C.size_t(i)))
		}
	}
	p.complete(r)
}

//export goPerms
func goPerms(h C.uintptr_t, status C.int, msg *C.char, ps *C.edera_xs_perm, n C.size_t) {
	p := takePending(h)
	r := result{err: cbErr(p.op, status, msg)}
	if status >= 0 {
		cps := unsafe.Slice(ps, int(n))
		r.perms = make([]Perm, int(n))
		for i, cp := range cps {
			r.perms[i] = Perm{Domid: uint32(cp.domid), Bits: PermBits(cp.perm)}
		}
	}
	p.complete(r)
}

// Read reads a XenStore node's value (ErrNotFound if there is none).
func (c *Context) Read(goctx context.Context, path string) ([]byte, error) {
	return read(goctx, c, nil, path)
}

// Write writes VALUE (any bytes) to a node, creating it and its missing
// parents.
func (c *Context) Write(goctx context.Context, path string, value []byte) error {
	return write(goctx, c, nil, path, value)
}

// Mkdir creates an empty node (and its missing parents).
func (c *Context) Mkdir(goctx context.Context, path string) error {
	return mkdir(goctx, c, nil, path)
}

// Remove removes a node and everything below it.
func (c *Context) Remove(goctx context.Context, path string) error {
	return remove(goctx, c, nil, path)
}

// List lists a node's children (names, not paths).
func (c *Context) List(goctx context.Context, path string) ([]string, error) {
	return list(goctx, c, nil, path)
}

// Perms reads a node's permissions.
func (c *Context) Perms(goctx context.Context, path string) ([]Perm, error) {
	return perms(goctx, c, nil, path)
}

// SetPerms sets a node's permissions (1 to 64 entries; see Perm).
func (c *Context) SetPerms(goctx context.Context, path string, ps []Perm) error {
	return setPerms(goctx, c, nil, path, ps)
}

// Read is Context.Read inside the transaction.
func (t *Txn) Read(goctx context.Context, path string) ([]byte, error) {
	return read(goctx, t.c, t, path)
}

// Write is Context.Write inside the transaction.
func (t *Txn) Write(goctx context.Context, path string, value []byte) error {
	return write(goctx, t.c, t, path, value)
}

// Mkdir is Context.Mkdir inside the transaction.
func (t *Txn) Mkdir(goctx context.Context, path string) error {
	return mkdir(goctx, t.c, t, path)
}

// Remove is Context.Remove inside the transaction.
func (t *Txn) Remove(goctx context.Context, path string) error {
	return remove(goctx, t.c, t, path)
}

// List is Context.List inside the transaction.
func (t *Txn) List(goctx context.Context, path string) ([]string, error) {
	return list(goctx, t.c, t, path)
}

// Perms is Context.Perms inside the transaction.
func (t *Txn) Perms(goctx context.Context, path string) ([]Perm, error) {
	return perms(goctx, t.c, t, path)
}

// SetPerms is Context.SetPerms inside the transaction.
func (t *Txn) SetPerms(goctx context.Context, path string, ps []Perm) error {
	return setPerms(goctx, t.c, t, path, ps)
}

// DomainPath is the home path xenstored gives DOMID ("/local/domain/N").
func (c *Context) DomainPath(goctx context.Context, domid uint32) (string, error) {
	p := newPending("DomainPath")
	r, err := c.start(goctx, p, func(h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_xs_get_domain_path(c.ctx, C.uint32_t(domid), h, e)
	})
	return string(r.value), err
}

// IntroduceDomain tells xenstored about a domain's XenStore ring (machine
// frame MFN, event channel EVTCHN).  Zones are introduced by CreateZone:
// this is for domains built by other means.
func (c *Context) IntroduceDomain(goctx context.Context, domid uint32, mfn uint64, evtchn uint32) error {
	p := newPending("IntroduceDomain")
	_, err := c.start(goctx, p, func(h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_xs_introduce(c.ctx, C.uint32_t(domid), C.uint64_t(mfn), C.uint32_t(evtchn), h, e)
	})
	return err
}

// ReleaseDomain tells xenstored a domain is gone.
func (c *Context) ReleaseDomain(goctx context.Context, domid uint32) error {
	p := newPending("ReleaseDomain")
	_, err := c.start(goctx, p, func(h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_xs_release(c.ctx, C.uint32_t(domid), h, e)
	})
	return err
}

// ---- transactions ----------------------------------------------------------

type txnState struct {
	c    *Context
	body func(*Txn) error
	p    *pending

	mu     sync.Mutex
	err    error       // the body's error, returned as it is
	panicV interface{} // the body's panic, raised again by Transaction
}

// Transaction runs BODY in a XenStore transaction and commits it.  BODY
// runs on a goroutine of its own and uses TX's methods (each takes a
// context); returning nil commits, returning an error aborts and
// Transaction returns that error.  On a conflict (another writer changed
// what the transaction read) BODY runs again with a new TX — up to 64
// attempts, then ErrAgain — so BODY must do nothing it cannot repeat.  A
// panic in BODY aborts the transaction and is raised again by Transaction
// (unless Transaction stopped waiting before the transaction ended).  Cancelling GOCTX ends the wait; a
// body still running is aborted when it returns (an attempt whose body had
// already returned nil may commit).
func (c *Context) Transaction(goctx context.Context, body func(tx *Txn) error) error {
	p := newPending("Transaction")
	st := &txnState{c: c, body: body, p: p}
	p.hval = st // the body and done callbacks find the state
	_, err := c.start(goctx, p, func(h C.uintptr_t, e *C.edgo_err) C.int {
		return C.edgo_xs_transaction(c.ctx, h, e)
	})
	st.mu.Lock()
	pv := st.panicV
	st.mu.Unlock()
	if pv != nil {
		panic(pv)
	}
	return err
}

//export goTxnBody
func goTxnBody(h C.uintptr_t, t *C.edera_xs_txn, attempt C.uint) {
	st := cgo.Handle(h).Value().(*txnState)
	st.p.mu.Lock()
	abandoned := st.p.abandoned
	st.p.mu.Unlock()
	if abandoned { // (a retry after Transaction stopped waiting: not run)
		C.edera_xs_txn_abort(t, C.EDERA_ECANCELED)
		return
	}
	tx := &Txn{c: st.c, t: t, attempt: int(attempt)}
	go st.run(tx)
}

func (st *txnState) run(tx *Txn) {
	err, pv := func() (err error, pv interface{}) {
		defer func() { pv = recover() }()
		return st.body(tx), nil
	}()
	tx.mu.Lock()
	tx.ended = true
	t := tx.t
	tx.t = nil
	tx.mu.Unlock()
	st.mu.Lock()
	st.err, st.panicV = err, pv
	st.mu.Unlock()
	st.c.post(func(live bool) {
		if !live {
			return // the context closed: the transaction ended with it
		}
		st.p.mu.Lock()
		abandoned := st.p.abandoned
		st.p.mu.Unlock()
		switch {
		case abandoned:
			C.edera_xs_txn_abort(t, C.EDERA_ECANCELED)
		case pv != nil:
			C.edera_xs_txn_abort(t, C.EDERA_ECANCELED)
		case err != nil:
			code := C.int(C.EDERA_ECANCELED)
			if e, ok := err.(*Error); ok && e.Code < 0 {
				code = C.int(e.Code)
			}
			C.edera_xs_txn_abort(t, code)
		default:
			C.edera_xs_txn_commit(t)
		}
	})
}

//export goTxnDone
func goTxnDone(h C.uintptr_t, status C.int, msg *C.char) {
	ch := cgo.Handle(h)
	st := ch.Value().(*txnState)
	deleteHandle(ch)
	r := result{err: cbErr(st.p.op, status, msg)}
	st.mu.Lock()
	if status < 0 && st.err != nil {
		r.err = st.err
	}
	if st.panicV != nil {
		r.err = ErrCanceled
	}
	st.mu.Unlock()
	st.p.complete(r)
}
