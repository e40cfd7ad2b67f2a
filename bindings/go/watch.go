// SPDX-License-Identifier: LGPL-2.1-or-later

package edera

// #include "shim.h"
import "C"

import (
	"context"
	"runtime/cgo"
	"sync"
)

// WatchEvent is a change at or below a watched path: Path is the node that
// changed.  Err is set instead when the XenStore connection was lost
// (ErrConnReset, or ErrProtocol when xenstored sent something malformed):
// after Context.Reconnect the watch is registered again and fires again.
type WatchEvent struct {
	Path string
	Err  error
}

// WatchBuffer is how many events a Watch holds for its reader.  A reader
// further behind loses the newest events, counted by Dropped: read the
// state again after a drop (as after any event, a watch says "something
// changed", not what).
const WatchBuffer = 256

// Watch is a registered XenStore watch; its events arrive on Events.
type Watch struct {
	c      *Context
	path   string
	w      *C.edera_xs_watch // loop goroutine only
	h      cgo.Handle
	events chan WatchEvent

	accepted chan error // the first callback (loop goroutine sends once)
	answered bool       // loop goroutine only

	mu      sync.Mutex
	dropped uint64
}

// Watch registers a watch on PATH (a node, or "@releaseDomain" /
// "@introduceDomain") and returns once xenstored accepted it.  Its first
// event is PATH itself (xenstored fires every new watch once); then one
// per change at or below PATH.  Close it when done.
func (c *Context) Watch(goctx context.Context, path string) (*Watch, error) {
	w := &Watch{c: c, path: path, events: make(chan WatchEvent, WatchBuffer),
		accepted: make(chan error, 1)}
	cp := cstr(path)
	defer free(cp)
	err := c.do(goctx, func() error {
		w.h = newHandle(w)
		e := c.loopErr()
		if C.edgo_xs_watch_add(c.ctx, &w.w, cp, C.uintptr_t(w.h), e) < 0 {
			deleteHandle(w.h)
			w.h = 0
			return errOf("Watch", e)
		}
		c.watches[w] = struct{}{}
		return nil
	})
	if err != nil {
		return nil, err
	}
	select {
	case err = <-w.accepted:
	case <-goctx.Done():
		err = ctxErr("Watch", goctx)
	}
	if err != nil {
		_ = w.Close()
		return nil, err
	}
	return w, nil
}

//export goWatch
func goWatch(h C.uintptr_t, status C.int, msg *C.char, path *C.char) {
	w := cgo.Handle(h).Value().(*Watch)
	err := cbErr("Watch", status, msg)
	if !w.answered {
		w.answered = true
		w.accepted <- err
		if err != nil {
			return // refused: Watch removes it
		}
	}
	ev := WatchEvent{Err: err}
	if err == nil {
		ev.Path = C.GoString(path)
	}
	select {
	case w.events <- ev:
	default:
		w.mu.Lock()
		w.dropped++
		w.mu.Unlock()
	}
}

// Events delivers the watch's events; it is closed by Close (and when the
// Context closes).
func (w *Watch) Events() <-chan WatchEvent { return w.events }

// Path is the watched path.
func (w *Watch) Path() string { return w.path }

// Dropped is how many events were lost because Events was full.
func (w *Watch) Dropped() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
}

// release: the C watch is gone (loop goroutine).
func (w *Watch) release() {
	if w.h == 0 {
		return
	}
	if !w.answered { // (the context closed before xenstored answered)
		w.answered = true
		w.accepted <- ErrClosed
	}
	deleteHandle(w.h)
	w.h = 0
	w.w = nil
	delete(w.c.watches, w)
	close(w.events)
}

// Close unregisters the watch and closes Events.  Calling it again does
// nothing.
func (w *Watch) Close() error {
	err := w.c.do(context.Background(), func() error {
		if w.h != 0 {
			C.edera_xs_watch_remove(w.w)
			w.release()
		}
		return nil
	})
	if err == ErrClosed {
		return nil
	}
	return err
}
