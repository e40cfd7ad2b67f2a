// SPDX-License-Identifier: LGPL-2.1-or-later

package edera_test

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"testing"
	"time"

	"libedera.dev/edera"
)

const base = "/local/domain/0/edera-go-test"

func TestRigXenStoreNodes(t *testing.T) {
	c := open(t)
	goctx := timeout(t, time.Minute)
	if err := c.Write(goctx, base+"/a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(goctx, base+"/b", []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Read(goctx, base+"/b"); err != nil || string(v) != "\x00\x01\x02" {
		t.Fatalf("Read: %q %v", v, err)
	}
	if err := c.Mkdir(goctx, base+"/d"); err != nil {
		t.Fatal(err)
	}
	names, err := c.List(goctx, base)
	sort.Strings(names)
	if err != nil || len(names) != 3 || names[0] != "a" || names[2] != "d" {
		t.Fatalf("List: %v %v", names, err)
	}
	if err := c.SetPerms(goctx, base+"/a", []edera.Perm{{0, edera.PermNone}, {1, edera.PermRead}}); err != nil {
		t.Fatal(err)
	}
	ps, err := c.Perms(goctx, base+"/a")
	if err != nil || len(ps) != 2 || ps[1] != (edera.Perm{Domid: 1, Bits: edera.PermRead}) {
		t.Fatalf("Perms: %v %v", ps, err)
	}
	if err := c.SetPerms(goctx, base+"/a", nil); !errors.Is(err, edera.ErrInvalid) {
		t.Fatalf("no perms: %v", err)
	}
	if p, err := c.DomainPath(goctx, 0); err != nil || p != "/local/domain/0" {
		t.Fatalf("DomainPath: %q %v", p, err)
	}
	if err := c.Remove(goctx, base); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(goctx, base+"/a"); !errors.Is(err, edera.ErrNotFound) {
		t.Fatalf("Read after Remove: %v", err)
	}
	if _, err := c.Read(goctx, "bad path!"); !errors.Is(err, edera.ErrInvalid) {
		t.Fatalf("a bad path: %v", err)
	}
	st, err := c.XenStoreStats(goctx)
	if err != nil || !st.Connected || st.Requests == 0 {
		t.Fatalf("stats %+v %v", st, err)
	}
}

func TestRigTransactionsRetryAbortAndWatches(t *testing.T) {
	c := open(t)
	goctx := timeout(t, time.Minute)
	if err := c.Write(goctx, base+"/n", []byte("5")); err != nil {
		t.Fatal(err)
	}
	w, err := c.Watch(goctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if ev := <-w.Events(); ev.Path != base || ev.Err != nil {
		t.Fatalf("the first event: %+v", ev)
	}
	// a conflict: the first attempt reads, then another writer changes the node
	attempts := 0
	err = c.Transaction(goctx, func(tx *edera.Txn) error {
		attempts++
		v, err := tx.Read(goctx, base+"/n")
		if err != nil {
			return err
		}
		if tx.Attempt() == 1 {
			if err := c.Write(goctx, base+"/n", []byte("100")); err != nil {
				return err
			}
		}
		n, _ := strconv.Atoi(string(v))
		return tx.Write(goctx, base+"/n", []byte(strconv.Itoa(n+1)))
	})
	if err != nil || attempts != 2 {
		t.Fatalf("Transaction: %v after %d attempts, want a retry", err, attempts)
	}
	if v, _ := c.Read(goctx, base+"/n"); string(v) != "101" {
		t.Fatalf("after the retry: %q", v)
	}
	// the body's error aborts and comes back as it is
	mine := errors.New("abort me")
	err = c.Transaction(goctx, func(tx *edera.Txn) error {
		if err := tx.Write(goctx, base+"/n", []byte("999")); err != nil {
			return err
		}
		return mine
	})
	if err != mine {
		t.Fatalf("an aborting body: %v", err)
	}
	if v, _ := c.Read(goctx, base+"/n"); string(v) != "101" {
		t.Fatalf("after the abort: %q", v)
	}
	// a Txn used after its body returned
	var kept *edera.Txn
	if err := c.Transaction(goctx, func(tx *edera.Txn) error { kept = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := kept.Read(goctx, base+"/n"); !errors.Is(err, edera.ErrInvalid) {
		t.Fatalf("a Txn after its body: %v", err)
	}
	// a panic aborts and is raised again
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v", r)
			}
		}()
		c.Transaction(goctx, func(tx *edera.Txn) error {
			tx.Write(goctx, base+"/n", []byte("666"))
			panic("boom")
		})
	}()
	if v, _ := c.Read(goctx, base+"/n"); string(v) != "101" {
		t.Fatalf("after the panic: %q", v)
	}
	// the watch saw the writes
	seen := false
	for !seen {
		select {
		case ev := <-w.Events():
			seen = ev.Path == base+"/n"
		case <-time.After(10 * time.Second):
			t.Fatal("no watch event for the writes")
		}
	}
	if err := c.Remove(goctx, base); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-w.Events(); ok {
		// drain what was buffered; the channel must end
		for range w.Events() {
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close twice: %v", err)
	}
}

func TestRigCancelledWaitsReturnContextErrors(t *testing.T) {
	c := open(t)
	goctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Read(goctx, base); err != context.Canceled {
		t.Fatalf("Read with a cancelled context: %v", err)
	}
	if _, err := c.HostInfo(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := c.Read(context.Background(), base); err != edera.ErrClosed {
		t.Fatalf("Read after Close: %v", err)
	}
}
