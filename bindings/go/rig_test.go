// SPDX-License-Identifier: LGPL-2.1-or-later

package edera_test

// Rig tests: real zones, in dom0 of the project's rig (tests/xen/run-all.sh
// runs the compiled test binary there with EDERA_GO_RIG=1 and the guests'
// paths in the environment).  Elsewhere they are skipped, saying so.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"libedera.dev/edera"
)

const xl = "/usr/lib/xen-4.17/bin/xl"

func TestMain(m *testing.M) {
	if os.Getenv("EDERA_GO_CHILD") == "reattach" {
		reattachChild()
		return
	}
	os.Exit(m.Run())
}

func rig(t *testing.T) {
	t.Helper()
	if os.Getenv("EDERA_GO_RIG") != "1" {
		t.Skip("a rig test: runs in dom0 (tests/xen/run-all.sh sets EDERA_GO_RIG=1)")
	}
}

func env(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set (tests/rig/xen-tests.sh exports it)", name)
	}
	return v
}

func open(t *testing.T) *edera.Context {
	t.Helper()
	rig(t)
	c, err := edera.Open(edera.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func timeout(t *testing.T, d time.Duration) context.Context {
	goctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return goctx
}

// domains lists the domain names xl sees.
func domains(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command(xl, "list").Output()
	if err != nil {
		t.Fatalf("xl list: %v", err)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n")[1:] {
		if f := strings.Fields(l); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// creationRecords lists the records of creations under way (files the
// library keeps in /run/edera/creating; shells have one each).
func creationRecords(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir("/run/edera/creating")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("reading the creation records: %v", err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func hasDomain(t *testing.T, prefix string) bool {
	for _, n := range domains(t) {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// noDomainLeft waits (up to a minute) for no domain named PREFIX*.
func noDomainLeft(t *testing.T, prefix string) {
	t.Helper()
	for i := 0; i < 600 && hasDomain(t, prefix); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if hasDomain(t, prefix) {
		t.Fatalf("a domain %s* is left: %v", prefix, domains(t))
	}
}

func readUntil(t *testing.T, con *edera.Console, text string, d time.Duration) string {
	t.Helper()
	goctx := timeout(t, d)
	var seen []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(seen, []byte(text)) {
		n, err := con.ReadContext(goctx, buf)
		seen = append(seen, buf[:n]...)
		if err != nil {
			t.Fatalf("reading the console for %q: %v; read: %q", text, err, tail(seen))
		}
	}
	return string(seen)
}

func tail(b []byte) []byte {
	if len(b) > 800 {
		return b[len(b)-800:]
	}
	return b
}

func waitExit(t *testing.T, z *edera.Zone, d time.Duration) edera.ExitReason {
	t.Helper()
	select {
	case <-z.Exited():
	case <-time.After(d):
		t.Fatalf("%v did not stop within %v", z, d)
	}
	r, ok := z.ExitReason()
	if !ok {
		t.Fatal("Exited is closed but ExitReason says the zone has not stopped")
	}
	return r
}

func linux(t *testing.T) string { return env(t, "RIG_CACHE") + "/vmlinuz" }

func mini(name, cmdline string) edera.ZoneConfig {
	return edera.ZoneConfig{Name: name, Kernel: os.Getenv("EDERA_MINI_KERNEL"), Cmdline: cmdline,
		MemoryMiB: 16}
}

func TestRigZoneBootsAndItsConsoleLineIsRead(t *testing.T) {
	c := open(t)
	goctx := timeout(t, 5*time.Minute)
	z, err := c.CreateZone(goctx, edera.ZoneConfig{Name: "go-hello", Kernel: linux(t),
		Initrd: env(t, "EDERA_GUEST_HELLO"), MemoryMiB: 256,
		Cmdline: "console=hvc0 quiet edera.test.args=from-go"})
	if err != nil {
		t.Fatalf("CreateZone: %v", err)
	}
	if z.Domid() == 0 || z.Name() != "go-hello" || len(z.UUID()) != 36 {
		t.Fatalf("zone %v uuid %q", z, z.UUID())
	}
	con := z.Console()
	out := readUntil(t, con, "EDERA-TEST-PROGRAM from-go 42", 3*time.Minute)
	t.Logf("console: ...%q", tail([]byte(out)))
	if r := waitExit(t, z, 2*time.Minute); r != edera.PowerOff {
		t.Fatalf("exit reason %v", r)
	}
	// the reader ends once the zone stopped and its output was read
	rest := make([]byte, 1<<16)
	for {
		_, err := con.ReadContext(goctx, rest)
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("the reader after the exit: %v", err)
			}
			break
		}
	}
	if err := z.Destroy(goctx); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if _, err := z.Info(goctx); !errors.Is(err, edera.ErrGone) {
		t.Fatalf("Info of a destroyed zone: %v, want ErrGone", err)
	}
	if zs, _ := c.Zones(goctx); len(zs) != 0 {
		t.Fatalf("zones left: %v", zs)
	}
}

func TestRigExitReasons(t *testing.T) {
	c := open(t)
	goctx := timeout(t, 3*time.Minute)
	for _, tc := range []struct {
		word string
		want edera.ExitReason
	}{{"poweroff", edera.PowerOff}, {"crash", edera.Crash}, {"reboot", edera.Reboot}} {
		z, err := c.CreateZone(goctx, mini("go-mini-"+tc.word, "reason="+tc.word))
		if err != nil {
			t.Fatalf("%s: %v", tc.word, err)
		}
		if r := waitExit(t, z, time.Minute); r != tc.want {
			t.Errorf("reason=%s: exit %v, want %v", tc.word, r, tc.want)
		}
		h, err := z.ConsoleHistory(goctx)
		if err != nil || !bytes.Contains(h, []byte("EDERA-MINI")) {
			t.Errorf("history %q, %v", h, err)
		}
		if err := z.Destroy(goctx); err != nil {
			t.Fatal(err)
		}
	}
	// destroyed from outside, with pages shared: what Bytes gave stays
	// usable (zeroed) until Close, whenever the zone stops
	z, err := c.CreateZone(goctx, mini("go-mini-outside", "reason=wait"))
	if err != nil {
		t.Fatal(err)
	}
	share, err := z.SharePages(goctx, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	mem := share.Bytes()
	for i := range mem {
		mem[i] = 0xa5
	}
	if out, err := exec.Command(xl, "destroy", strconv.Itoa(int(z.Domid()))).CombinedOutput(); err != nil {
		t.Fatalf("xl destroy: %v %s", err, out)
	}
	if r := waitExit(t, z, time.Minute); r != edera.Destroyed {
		t.Errorf("destroyed by xl: exit %v", r)
	}
	for i := range mem {
		if mem[i] != 0 {
			t.Fatalf("the shared memory after the zone stopped: byte %d is %#x, want 0", i, mem[i])
		}
		mem[i] = 1
	}
	if err := share.Close(); err != nil {
		t.Fatal(err)
	}
	if err := z.Destroy(goctx); err != nil {
		t.Fatal(err)
	}
}

func TestRigShutdownPowerOffRebootAndTimeout(t *testing.T) {
	c := open(t)
	for _, tc := range []struct {
		mode edera.ShutdownMode
		want edera.ExitReason
	}{{edera.PowerOffMode, edera.PowerOff}, {edera.RebootMode, edera.Reboot}} {
		goctx := timeout(t, 5*time.Minute)
		z, err := c.CreateZone(goctx, edera.ZoneConfig{Name: "go-shutdown", Kernel: linux(t),
			Initrd: env(t, "EDERA_GUEST_WAIT"), Cmdline: "console=hvc0 quiet", MemoryMiB: 256})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := z.Shutdown(goctx, tc.mode); err != nil || r != tc.want {
			t.Fatalf("Shutdown(%d): %v %v, want %v", tc.mode, r, err, tc.want)
		}
		if err := z.Destroy(goctx); err != nil {
			t.Fatal(err)
		}
	}
	// a guest that does not answer: the deadline ends it with ErrTimedOut
	goctx := timeout(t, time.Minute)
	z, err := c.CreateZone(goctx, mini("go-deaf", "reason=wait"))
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(goctx, 2*time.Second)
	defer cancel()
	_, err = z.Shutdown(short, edera.PowerOffMode)
	if !errors.Is(err, edera.ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown of a deaf guest: %v, want ErrTimedOut", err)
	}
	if err := z.Destroy(goctx); err != nil {
		t.Fatal(err)
	}
}

func TestRigBadInputLeavesNothing(t *testing.T) {
	c := open(t)
	goctx := timeout(t, time.Minute)
	before := len(domains(t))
	_, err := c.CreateZone(goctx, edera.ZoneConfig{Name: "go-bad", Kernel: "/nonexistent/vmlinuz"})
	var e *edera.Error
	if !errors.Is(err, edera.ErrNotFound) || !errors.As(err, &e) ||
		!strings.Contains(e.Message, "/nonexistent/vmlinuz") {
		t.Fatalf("a missing kernel: %v, want ErrNotFound naming the path", err)
	}
	_, err = c.CreateZone(goctx, edera.ZoneConfig{Name: "go-bad", Kernel: "/etc/hostname"})
	if !errors.Is(err, edera.ErrInvalid) {
		t.Fatalf("not a kernel: %v, want ErrInvalid", err)
	}
	_, err = c.CreateZone(goctx, edera.ZoneConfig{Name: "go-bad", Kernel: os.Getenv("EDERA_MINI_KERNEL"),
		MemoryMiB: 1 << 30})
	if !errors.Is(err, edera.ErrNoMemory) && !errors.Is(err, edera.ErrInvalid) {
		t.Fatalf("a terabyte: %v, want ErrNoMemory or ErrInvalid", err)
	}
	z, err := c.CreateZone(goctx, mini("go-dup", "reason=wait"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateZone(goctx, mini("go-dup", "reason=wait")); !errors.Is(err, edera.ErrExists) {
		t.Fatalf("a name in use: %v, want ErrExists", err)
	}
	if err := z.Destroy(goctx); err != nil {
		t.Fatal(err)
	}
	if zs, _ := c.Zones(goctx); len(zs) != 0 || len(domains(t)) != before {
		t.Fatalf("left: zones %v, domains %v", zs, domains(t))
	}
}

func TestRigDiskAndNICAttachAndDetach(t *testing.T) {
	c := open(t)
	goctx := timeout(t, 6*time.Minute)
	img, err := os.CreateTemp("", "edera-go-*.img")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(img.Name())
	img.Truncate(32 << 20)
	img.Close()
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img.Name()).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v %s", err, out)
	}
	if exec.Command("ip", "link", "show", "edbr0").Run() != nil {
		if out, err := exec.Command("sh", "-c", "ip link add edbr0 type bridge && ip link set edbr0 up").CombinedOutput(); err != nil {
			t.Fatalf("bridge: %v %s", err, out)
		}
	}
	z, err := c.CreateZone(goctx, edera.ZoneConfig{Name: "go-devices", Kernel: linux(t),
		Initrd: env(t, "EDERA_GUEST_DEV"), MemoryMiB: 256,
		Cmdline: "console=hvc0 quiet loglevel=0 edera.test.args=hotplug,idle"})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Destroy(context.Background())
	con := z.Console()
	disk, err := z.AttachDisk(goctx, edera.Disk{Path: img.Name(), VDev: "xvdb"})
	if err != nil {
		t.Fatalf("AttachDisk: %v", err)
	}
	if disk.Kind() != edera.DiskDevice || !strings.HasPrefix(disk.HostName(), "/dev/loop") || disk.MAC() != "" {
		t.Fatalf("disk %v", disk)
	}
	readUntil(t, con, "EDERA-XVDB-APPEARED", 3*time.Minute)
	if _, err := z.AttachDisk(goctx, edera.Disk{Path: img.Name(), VDev: "xvdb"}); !errors.Is(err, edera.ErrExists) && !errors.Is(err, edera.ErrBusy) {
		t.Fatalf("the same vdev again: %v, want ErrExists or ErrBusy", err)
	}
	nic, err := z.AttachNIC(goctx, edera.NIC{Bridge: "edbr0"})
	if err != nil {
		t.Fatalf("AttachNIC: %v", err)
	}
	var mac0 uint
	fmt.Sscanf(nic.MAC(), "%x:", &mac0)
	// a stable locally administered unicast address
	if nic.Kind() != edera.NICDevice || len(nic.MAC()) != 17 || mac0&3 != 2 ||
		!strings.HasPrefix(nic.HostName(), "vif") {
		t.Fatalf("nic %v mac %q", nic, nic.MAC())
	}
	if _, err := z.AttachNIC(goctx, edera.NIC{Bridge: "no-such-bridge"}); !errors.Is(err, edera.ErrNotFound) {
		t.Fatalf("a missing bridge: %v, want ErrNotFound", err)
	}
	ds, err := z.Devices(goctx)
	if err != nil || len(ds) != 2 || !(ds[0] == disk && ds[1] == nic || ds[0] == nic && ds[1] == disk) {
		t.Fatalf("Devices: %v %v", ds, err)
	}
	if err := disk.Detach(goctx); err != nil {
		t.Fatalf("detach the disk: %v", err)
	}
	readUntil(t, con, "EDERA-XVDB-GONE", 2*time.Minute)
	if err := nic.Detach(goctx); err != nil {
		t.Fatalf("detach the NIC: %v", err)
	}
	if err := disk.Detach(goctx); !errors.Is(err, edera.ErrGone) {
		t.Fatalf("detach twice: %v, want ErrGone", err)
	}
	if ds, _ := z.Devices(goctx); len(ds) != 0 {
		t.Fatalf("devices left: %v", ds)
	}
	if out, _ := exec.Command("losetup", "-j", img.Name()).Output(); len(out) != 0 {
		t.Fatalf("a loop device is left: %s", out)
	}
}

func resZone(t *testing.T, c *edera.Context, goctx context.Context, name string, cfg edera.ZoneConfig) (*edera.Zone, *edera.Console) {
	t.Helper()
	cfg.Name, cfg.Kernel, cfg.Initrd = name, linux(t), env(t, "EDERA_GUEST_RES")
	cfg.Cmdline = "console=hvc0 quiet loglevel=0"
	z, err := c.CreateZone(goctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Destroy(context.Background()) })
	con := z.Console()
	readUntil(t, con, "RES READY", 3*time.Minute)
	return z, con
}

func TestRigBalloonAndVCPUs(t *testing.T) {
	c := open(t)
	goctx := timeout(t, 6*time.Minute)
	z, _ := resZone(t, c, goctx, "go-balloon", edera.ZoneConfig{MemoryMiB: 256, MaxMemoryMiB: 384,
		VCPUs: 1, MaxVCPUs: 2})
	near := func(kib, mib uint64) bool { d := int64(kib) - int64(mib*1024); return d > -4096 && d < 4096 }
	if kib, err := z.SetMemory(timeout(t, time.Minute), 128); err != nil || !near(kib, 128) {
		t.Fatalf("SetMemory 128: %d KiB, %v", kib, err)
	}
	if kib, err := z.SetMemory(timeout(t, time.Minute), 384); err != nil || !near(kib, 384) {
		t.Fatalf("SetMemory 384: %d KiB, %v", kib, err)
	}
	if _, err := z.SetMemory(goctx, 8); !errors.Is(err, edera.ErrInvalid) {
		t.Fatalf("SetMemory 8: %v, want ErrInvalid", err)
	}
	if err := z.SetVCPUs(timeout(t, time.Minute), 2); err != nil {
		t.Fatalf("SetVCPUs 2: %v", err)
	}
	info, err := z.Info(goctx)
	if err != nil || info.VCPUsOnline != 2 || info.MaxVCPUs != 2 || info.TargetMemoryKiB != 384*1024 {
		t.Fatalf("Info: %+v %v", info, err)
	}
	if err := z.SetVCPUs(goctx, 3); !errors.Is(err, edera.ErrInvalid) {
		t.Fatalf("SetVCPUs 3 of 2: %v, want ErrInvalid", err)
	}
}

func TestRigSharedPageAndEventChannelPingPong(t *testing.T) {
	c := open(t)
	goctx := timeout(t, 5*time.Minute)
	z, con := resZone(t, c, goctx, "go-pingpong", edera.ZoneConfig{})
	share, err := z.SharePages(goctx, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := z.AllocEventChannel(goctx)
	if err != nil {
		t.Fatal(err)
	}
	mem := share.Bytes()
	if len(mem) != edera.PageSize || len(share.Refs()) != 1 || ch.Port() == 0 {
		t.Fatalf("share %d bytes refs %v port %d", len(mem), share.Refs(), ch.Port())
	}
	fmt.Fprintf(con, "map 0 %d - %d\n", ch.Port(), share.Refs()[0])
	readUntil(t, con, "RES MAPPED ok", 30*time.Second)
	fmt.Fprintf(con, "pong 100\n")
	put := func(off int, v uint64) {
		for i := 0; i < 8; i++ {
			mem[off+i] = byte(v >> (8 * i))
		}
	}
	get := func(off int) (v uint64) {
		for i := 7; i >= 0; i-- {
			v = v<<8 | uint64(mem[off+i])
		}
		return v
	}
	// (binding the channel may have left a notification pending: each round
	// waits for the one that brings its echo)
	for i := uint64(1); i <= 100; i++ {
		put(0, i)
		if err := ch.Notify(); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(10 * time.Second)
		for get(8) != i {
			select {
			case <-ch.Notifications():
			case <-deadline:
				t.Fatalf("round %d: no echo (the zone's is %d)", i, get(8))
			}
		}
	}
	if err := ch.Close(); err != nil {
		t.Fatal(err)
	}
	for open := true; open; { // (a notification may be buffered before the end)
		select {
		case _, open = <-ch.Notifications():
		case <-time.After(time.Second):
			t.Fatal("Notifications is open after Close")
		}
	}
	if err := ch.Notify(); !errors.Is(err, edera.ErrClosed) {
		t.Fatalf("Notify after Close: %v", err)
	}
	if err := share.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := z.SharePages(goctx, 0, false); !errors.Is(err, edera.ErrInvalid) {
		t.Fatalf("0 pages: %v", err)
	}

	// the other way: the zone grants pages and allocates a channel, dom0
	// maps and binds them
	fmt.Fprintf(con, "unmap\nshare 0 2 7\n")
	out := readUntil(t, con, "RES SHARED", 30*time.Second)
	line := out[strings.LastIndex(out, "RES SHARED"):]
	line = line[:strings.IndexAny(line+"\r\n", "\r\n")]
	var port uint32
	var refList string
	if _, err := fmt.Sscanf(line, "RES SHARED %d %s", &port, &refList); err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	var refs []uint32
	for _, r := range strings.Split(refList, ",") {
		n, err := strconv.ParseUint(r, 10, 32)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		refs = append(refs, uint32(n))
	}
	m, err := z.MapPages(goctx, refs, false)
	if err != nil {
		t.Fatalf("MapPages %v: %v", refs, err)
	}
	b, err := z.BindEventChannel(goctx, port)
	if err != nil {
		t.Fatalf("BindEventChannel %d: %v", port, err)
	}
	pages := m.Bytes()
	if len(pages) != 2*edera.PageSize {
		t.Fatalf("mapped %d bytes", len(pages))
	}
	for off := range pages {
		if pages[off] != resPattern(7, uint64(off)) {
			t.Fatalf("the zone's page differs at %d", off)
		}
	}
	for off := range pages {
		pages[off] = resPattern(8, uint64(off))
	}
	if err := b.Notify(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(con, "check 8 10000\n")
	if out := readUntil(t, con, "RES CHECK", 30*time.Second); !strings.Contains(out, "RES CHECK ok") {
		t.Fatalf("the zone's check: %q", tail([]byte(out)))
	}
	b.Close()
	m.Close()
}

// resPattern is tests/guest/res-proto.h's res_pattern.
func resPattern(seed uint32, off uint64) byte {
	x := off ^ uint64(seed>>8)<<40
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return byte(x + uint64(seed&0xff))
}

func TestRigPausedStartPauseUnpauseAndConsoleLog(t *testing.T) {
	c := open(t)
	goctx := timeout(t, 2*time.Minute)
	cfg := mini("go-paused", "reason=wait")
	cfg.StartPaused = true
	z, err := c.CreateZone(goctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Destroy(context.Background())
	state := func() edera.ZoneState {
		info, err := z.Info(goctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State
	}
	if s := state(); s != edera.Paused {
		t.Fatalf("created paused: %v", s)
	}
	log := t.TempDir() + "/console.log"
	if err := z.SetConsoleLog(goctx, log); err != nil {
		t.Fatal(err)
	}
	if err := z.Unpause(goctx); err != nil {
		t.Fatal(err)
	}
	if s := state(); s != edera.Running {
		t.Fatalf("after Unpause: %v", s)
	}
	if err := z.Pause(goctx); err != nil || state() != edera.Paused {
		t.Fatalf("Pause: %v %v", err, state())
	}
	if err := z.Unpause(goctx); err != nil || state() != edera.Running {
		t.Fatalf("Unpause: %v %v", err, state())
	}
	for i := 0; ; i++ {
		b, _ := os.ReadFile(log)
		if bytes.Contains(b, []byte("EDERA-MINI")) {
			break
		}
		if i == 100 {
			t.Fatalf("the console log holds %q", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// the log's writer thread counts what it wrote once write(2) returned:
	// the file can hold the bytes a moment before the count does
	st, err := z.ConsoleStats(goctx)
	for i := 0; err == nil && st.LogQueued != 0 && i < 100; i++ {
		time.Sleep(50 * time.Millisecond)
		st, err = z.ConsoleStats(goctx)
	}
	if err != nil || !st.Connected || st.OutputBytes == 0 || st.LogBytes == 0 || st.RingErrors != 0 {
		t.Fatalf("ConsoleStats %+v %v", st, err)
	}
	if err := z.SetConsoleLog(goctx, ""); err != nil {
		t.Fatal(err)
	}
	if err := z.SetConsoleLog(goctx, "/nonexistent/dir/log"); !errors.Is(err, edera.ErrNotFound) {
		t.Fatalf("a log in a missing directory: %v", err)
	}
}

// reattachChild is the second process of TestRigReattachFromASecondProcess:
// it creates a zone, prints its domid and exits without closing anything.
func reattachChild() {
	c, err := edera.Open(edera.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	z, err := c.CreateZone(context.Background(), mini("go-reattach", "reason=wait"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(z.Domid())
	os.Exit(0)
}

func TestRigReattachFromASecondProcess(t *testing.T) {
	rig(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "EDERA_GO_CHILD=reattach")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the child: %v", err)
	}
	domid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("the child printed %q", out)
	}
	c := open(t)
	goctx := timeout(t, time.Minute)
	attached, _, err := c.Reattach(goctx)
	if err != nil || attached < 1 {
		t.Fatalf("Reattach: %d, %v", attached, err)
	}
	z, err := c.Zone(goctx, "go-reattach")
	if err != nil || int(z.Domid()) != domid {
		t.Fatalf("Zone: %v %v, want domain %d", z, err, domid)
	}
	if z2, _ := c.ZoneByDomid(goctx, uint32(domid)); z2 != z {
		t.Fatal("ZoneByDomid gives another handle")
	}
	if z3, _ := c.ZoneByUUID(goctx, z.UUID()); z3 != z {
		t.Fatal("ZoneByUUID gives another handle")
	}
	if err := z.Destroy(goctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Zone(goctx, "go-reattach"); !errors.Is(err, edera.ErrNotFound) {
		t.Fatalf("after Destroy: %v", err)
	}
}

func TestRigFiftyGoroutinesAtOnce(t *testing.T) {
	c := open(t)
	handles := edera.HandleCount()
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	fail := func(name, what string, t0 time.Time, err error, more ...interface{}) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, fmt.Sprintf("%s: %s after %.1f s (%.1f s into the test): %v %v",
			name, what, time.Since(t0).Seconds(), time.Since(start).Seconds(), err, more))
	}
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := fmt.Sprintf("go-par-%d", i)
			// each step its own deadline: a slow one is named, not blamed on the next
			step := func() (context.Context, time.Time) {
				return timeout(t, 5*time.Minute), time.Now()
			}
			goctx, t0 := step()
			z, err := c.CreateZone(goctx, mini(name, "reason=wait"))
			if err != nil {
				fail(name, "create", t0, err)
				return
			}
			goctx, t0 = step()
			if info, err := z.Info(goctx); err != nil || info.Domid != z.Domid() || info.State != edera.Running {
				fail(name, "info", t0, err, info)
			}
			goctx, t0 = step()
			if z2, err := c.Zone(goctx, name); err != nil || z2 != z {
				fail(name, "lookup", t0, err, z2)
			}
			goctx, t0 = step()
			if _, err := c.Read(goctx, fmt.Sprintf("/local/domain/%d/name", z.Domid())); err != nil {
				fail(name, "read its name", t0, err)
			}
			goctx, t0 = step()
			if err := z.Destroy(goctx); err != nil {
				fail(name, "destroy", t0, err)
			}
		}(i)
	}
	wg.Wait()
	for _, e := range errs {
		t.Error(e)
	}
	if len(errs) > 0 {
		out, _ := exec.Command(xl, "info").Output()
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "memory") {
				t.Log("xl info: " + l)
			}
		}
	}
	goctx := timeout(t, time.Minute)
	if zs, _ := c.Zones(goctx); len(zs) != 0 {
		t.Fatalf("zones left: %d", len(zs))
	}
	if hasDomain(t, "go-par-") {
		t.Fatalf("domains left: %v", domains(t))
	}
	if edera.HandleCount() != handles {
		t.Fatalf("handles: %d, %d before", edera.HandleCount(), handles)
	}
	t.Logf("50 zones created, looked at and destroyed at once in %.1f s", time.Since(start).Seconds())
}

func TestRigCancelledCreationLeavesNoDomain(t *testing.T) {
	c := open(t)
	// what earlier tests' processes left (records of creations or shells
	// whose process is gone) goes first: the test watches the records
	if _, _, err := c.Reattach(context.Background()); err != nil {
		t.Fatalf("Reattach: %v", err)
	}
	goctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.CreateZone(goctx, edera.ZoneConfig{Name: "go-cancel", Kernel: linux(t),
			Initrd: env(t, "EDERA_GUEST_HELLO"), MemoryMiB: 256})
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Fatalf("CreateZone: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelling did not end the wait")
	}
	if zs, _ := c.Zones(context.Background()); len(zs) != 0 {
		t.Fatalf("a creation under way is listed: %v", zs)
	}
	// the creation goes on in the library, recorded (a file in
	// /run/edera/creating) until it completes; then the zone it made is
	// destroyed
	recorded := func() bool {
		return len(creationRecords(t)) > 0
	}
	for i := 0; !recorded(); i++ {
		if i == 50 {
			t.Fatal("the cancelled creation was never recorded as under way")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := 0; recorded(); i++ {
		if i == 1200 {
			t.Fatal("the creation is still recorded after 2 min")
		}
		time.Sleep(100 * time.Millisecond)
	}
	noDomainLeft(t, "go-cancel")
	if zs, _ := c.Zones(context.Background()); len(zs) != 0 {
		t.Fatalf("zones left: %v", zs)
	}
}

func TestRigAlreadyCancelledCreationIsNotMade(t *testing.T) {
	c := open(t)
	goctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.CreateZone(goctx, mini("go-never", "reason=wait")); err != context.Canceled {
		t.Fatalf("CreateZone with a cancelled context: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	if hasDomain(t, "go-never") {
		t.Fatal("a creation cancelled before it started made a domain")
	}
}

func TestRigReattachDuringACreation(t *testing.T) {
	c := open(t)
	goctx := timeout(t, 3*time.Minute)
	type made struct {
		z   *edera.Zone
		err error
	}
	done := make(chan made, 1)
	go func() {
		z, err := c.CreateZone(goctx, edera.ZoneConfig{Name: "go-during", Kernel: linux(t),
			Initrd: env(t, "EDERA_GUEST_WAIT"), Cmdline: "console=hvc0 quiet", MemoryMiB: 256})
		done <- made{z, err}
	}()
	time.Sleep(20 * time.Millisecond)
	if _, _, err := c.Reattach(goctx); err != nil {
		t.Fatal(err)
	}
	if zs, _ := c.Zones(goctx); len(zs) != 0 {
		t.Fatalf("Reattach handed out a creation under way: %v", zs)
	}
	m := <-done
	if m.err != nil {
		t.Fatal(m.err)
	}
	info, err := m.z.Info(goctx)
	if err != nil || m.z.Domid() == 0 || info.Domid != m.z.Domid() {
		t.Fatalf("the zone: domid %d, info %+v %v", m.z.Domid(), info, err)
	}
	// a writer blocked on a guest that does not read ends when the zone
	// is destroyed (the wait guest's shell reads its console: fill past it
	// with a deaf one)
	if err := m.z.Destroy(goctx); err != nil {
		t.Fatal(err)
	}
	deaf, err := c.CreateZone(goctx, mini("go-deaf-writer", "reason=wait"))
	if err != nil {
		t.Fatal(err)
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := deaf.WriteConsole(context.Background(), make([]byte, 64<<10))
		wrote <- err
	}()
	time.Sleep(500 * time.Millisecond)
	select {
	case err := <-wrote:
		t.Fatalf("64 KiB to a guest that reads nothing: %v, want it to wait", err)
	default:
	}
	if err := deaf.Destroy(goctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-wrote:
		if !errors.Is(err, edera.ErrGone) {
			t.Fatalf("the blocked writer after Destroy: %v, want ErrGone", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the blocked writer did not end with the zone")
	}
}

func rss(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func TestRigTwentyCyclesKeepGoroutinesAndMemoryFlat(t *testing.T) {
	c := open(t)
	goctx := timeout(t, 5*time.Minute)
	cycle := func(i int) {
		z, err := c.CreateZone(goctx, mini(fmt.Sprintf("go-cycle-%d", i), "reason=wait"))
		if err != nil {
			t.Fatal(err)
		}
		con := z.Console()
		readUntil(t, con, "EDERA-MINI", 30*time.Second)
		w, err := c.Watch(goctx, fmt.Sprintf("/local/domain/%d", z.Domid()))
		if err != nil {
			t.Fatal(err)
		}
		<-w.Events()
		if err := z.Destroy(goctx); err != nil {
			t.Fatal(err)
		}
		w.Close()
		con.Close()
	}
	for i := 0; i < 5; i++ { // warm up
		cycle(i)
	}
	runtime.GC()
	goroutines, handles, mem := runtime.NumGoroutine(), edera.HandleCount(), rss(t)
	for i := 5; i < 25; i++ {
		cycle(i)
	}
	runtime.GC()
	time.Sleep(100 * time.Millisecond)
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("goroutines: %d after 20 cycles, %d before", n, goroutines)
	}
	if n := edera.HandleCount(); n != handles {
		t.Errorf("handles: %d after 20 cycles, %d before", n, handles)
	}
	if grew := rss(t) - mem; grew > 4<<20 {
		t.Errorf("resident memory grew by %d KiB over 20 cycles", grew>>10)
	}
	t.Logf("after 20 cycles: %d goroutines, %d handles, RSS %+d KiB", runtime.NumGoroutine(),
		edera.HandleCount(), (rss(t)-mem)>>10)
}

func TestRigCloseEndsEverythingAndFreesHandles(t *testing.T) {
	rig(t)
	handles := edera.HandleCount()
	c, err := edera.Open(edera.Options{})
	if err != nil {
		t.Fatal(err)
	}
	goctx := timeout(t, time.Minute)
	z, err := c.CreateZone(goctx, mini("go-close", "reason=wait"))
	if err != nil {
		t.Fatal(err)
	}
	con := z.Console()
	w, err := c.Watch(goctx, "/local/domain/0")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := z.Info(goctx); err != edera.ErrClosed {
		t.Fatalf("Info after Close: %v", err)
	}
	for range w.Events() { // closed by Close
	}
	if _, err := con.ReadContext(goctx, make([]byte, 1<<16)); err == nil {
		// the history first, then the end
		if _, err = con.ReadContext(goctx, make([]byte, 1)); err == nil {
			t.Fatal("the console reader goes on after Close")
		}
	}
	if edera.HandleCount() != handles {
		t.Fatalf("handles: %d after Close, %d before", edera.HandleCount(), handles)
	}
	// the zone outlives its context: another one takes it over
	c2 := open(t)
	if _, _, err := c2.Reattach(goctx); err != nil {
		t.Fatal(err)
	}
	z2, err := c2.Zone(goctx, "go-close")
	if err != nil {
		t.Fatal(err)
	}
	if err := z2.Destroy(goctx); err != nil {
		t.Fatal(err)
	}
}
