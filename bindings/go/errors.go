// SPDX-License-Identifier: LGPL-2.1-or-later

package edera

// #include <edera/edera.h>
import "C"

import (
	"context"
	"errors"
	"fmt"
	"syscall"
)

// Error is a failure the library reported: its code (an EDERA_E* value,
// negative) and its detailed message (what was wrong and what to do).
//
// errors.Is matches an *Error against the sentinels below by code, and —
// through Unwrap — against the matching syscall.Errno, so both
// errors.Is(err, edera.ErrNotFound) and errors.Is(err, syscall.ENOENT) hold.
type Error struct {
	Code    int    // an EDERA_E* code (negative), e.g. -2 for "not found"
	Message string // the library's message; may be empty
	Op      string // the Go method that failed, e.g. "CreateZone"

	deadline bool // the wait ended at the context's deadline
	gone     bool // ErrGone
}

// The library's codes, as Errors to compare with errors.Is.
var (
	ErrPermission     = &Error{Code: C.EDERA_EPERM}
	ErrNotFound       = &Error{Code: C.EDERA_ENOENT}
	ErrIO             = &Error{Code: C.EDERA_EIO}
	ErrAgain          = &Error{Code: C.EDERA_EAGAIN} // e.g. a XenStore transaction conflict
	ErrNoMemory       = &Error{Code: C.EDERA_ENOMEM}
	ErrAccess         = &Error{Code: C.EDERA_EACCES}
	ErrBusy           = &Error{Code: C.EDERA_EBUSY}
	ErrExists         = &Error{Code: C.EDERA_EEXIST}
	ErrNoDevice       = &Error{Code: C.EDERA_ENODEV}
	ErrInvalid        = &Error{Code: C.EDERA_EINVAL}
	ErrNoSpace        = &Error{Code: C.EDERA_ENOSPC}
	ErrRange          = &Error{Code: C.EDERA_ERANGE}
	ErrNotImplemented = &Error{Code: C.EDERA_ENOSYS}
	ErrProtocol       = &Error{Code: C.EDERA_EPROTO}
	ErrNotSupported   = &Error{Code: C.EDERA_ENOTSUP}
	ErrConnReset      = &Error{Code: C.EDERA_ECONNRESET}
	ErrNotConnected   = &Error{Code: C.EDERA_ENOTCONN}
	ErrTimedOut       = &Error{Code: C.EDERA_ETIMEDOUT}
	ErrCanceled       = &Error{Code: C.EDERA_ECANCELED}
	ErrNoXen          = &Error{Code: C.EDERA_ENOXEN}      // no Xen, or not its control domain
	ErrXenVersion     = &Error{Code: C.EDERA_EXENVERSION} // Xen older than 4.17
)

// ErrClosed is returned by every method once the Context is closed (and by
// a handle's methods once the handle is closed or released).
var ErrClosed = errors.New("edera: closed")

// ErrGone is returned by a Zone's or a Device's methods once its handle was
// freed: the zone was destroyed (Destroy completed) or the device detached.
// errors.Is(err, ErrNotFound) holds too (not the other way: a node or file
// not found is not ErrGone).
var ErrGone = &Error{Code: C.EDERA_ENOENT, gone: true,
	Message: "the handle was freed (the zone destroyed or the device detached)"}

// Error returns "op: message (EDERA_CODE)".
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = Strerror(e.Code)
	}
	s := msg + " (" + Errname(e.Code) + ")"
	if e.Op != "" {
		s = "edera: " + e.Op + ": " + s
	} else {
		s = "edera: " + s
	}
	return s
}

// Unwrap gives the syscall.Errno of the code when it is an errno's (codes
// above -1000), so errors.Is(err, syscall.ENOENT) works; nil otherwise.
func (e *Error) Unwrap() error {
	if e.Code < 0 && e.Code > -1000 {
		return syscall.Errno(-e.Code)
	}
	return nil
}

// Is reports whether target is an *Error with the same code (the sentinels
// above), or context.DeadlineExceeded when the wait ended at a context's
// deadline.
func (e *Error) Is(target error) bool {
	if target == context.DeadlineExceeded {
		return e.deadline
	}
	t, ok := target.(*Error)
	if ok && t.gone {
		return e.gone
	}
	return ok && t.Code == e.Code
}

// Strerror is the code's short description ("invalid argument").
func Strerror(code int) string {
	return C.GoString(C.edera_strerror(C.int(code)))
}

// Errname is the code's symbolic name ("EDERA_EINVAL").
func Errname(code int) string {
	return C.GoString(C.edera_errname(C.int(code)))
}

// newError makes the *Error of a failure with its message.
func newError(op string, code int, msg string) *Error {
	return &Error{Code: code, Message: msg, Op: op}
}

// invalid is a bad argument found by the Go layer, before any C call.
func invalid(op, format string, args ...interface{}) *Error {
	return &Error{Code: C.EDERA_EINVAL, Message: fmt.Sprintf(format, args...), Op: op}
}

// ctxErr is what a wait ended by GOCTX returns: ctx.Err() itself when it was
// cancelled; at its deadline an *Error that is ErrTimedOut (the library's
// own timeouts come back the same way) and also context.DeadlineExceeded.
func ctxErr(op string, goctx context.Context) error {
	err := goctx.Err()
	if err == context.DeadlineExceeded {
		return &Error{Code: C.EDERA_ETIMEDOUT, Op: op, deadline: true,
			Message: "the context's deadline passed before the operation completed"}
	}
	return err
}
