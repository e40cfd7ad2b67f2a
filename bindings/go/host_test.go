// SPDX-License-Identifier: LGPL-2.1-or-later

package edera

// Tests that need no Xen: they run on any host (make check).

import (
	"bufio"
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func noXen(t *testing.T) {
	if _, err := os.Stat("/dev/xen/privcmd"); err == nil {
		t.Skip("Xen is here: this test is about a host without it")
	}
}

func TestOpenWithoutXenIsErrNoXen(t *testing.T) {
	noXen(t)
	before, goroutines := HandleCount(), runtime.NumGoroutine()
	c, err := Open(Options{})
	if err == nil {
		c.Close()
		t.Fatal("Open succeeded without Xen")
	}
	if c != nil {
		t.Fatalf("Open failed but returned a context: %v", c)
	}
	if !errors.Is(err, ErrNoXen) {
		t.Fatalf("Open: %v, want ErrNoXen", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Op != "Open" || !strings.Contains(e.Message, "privcmd") {
		t.Fatalf("Open: %#v: want the library's message about /dev/xen/privcmd", err)
	}
	if errors.Unwrap(err) != nil {
		t.Fatalf("ErrNoXen is the library's own code: it unwraps to %v", errors.Unwrap(err))
	}
	if HandleCount() != before {
		t.Fatalf("handles: %d after a failed Open, %d before", HandleCount(), before)
	}
	// the loop goroutine has ended
	for i := 0; runtime.NumGoroutine() > goroutines && i < 100; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Fatalf("goroutines: %d after a failed Open, %d before", n, goroutines)
	}
}

func TestErrorsMatchSentinelsAndErrnos(t *testing.T) {
	err := error(newError("Read", -2, "no node /x"))
	for _, c := range []struct {
		target error
		want   bool
	}{
		{ErrNotFound, true}, {syscall.ENOENT, true}, {ErrExists, false}, {syscall.EEXIST, false},
		{ErrGone, false}, {context.DeadlineExceeded, false},
	} {
		if got := errors.Is(err, c.target); got != c.want {
			t.Errorf("errors.Is(%v, %v) = %v, want %v", err, c.target, got, c.want)
		}
	}
	if !errors.Is(ErrGone, ErrNotFound) || !errors.Is(ErrGone, ErrGone) {
		t.Error("ErrGone is not found, and itself")
	}
	if !errors.Is(ErrBusy, syscall.EBUSY) || !errors.Is(ErrTimedOut, syscall.ETIMEDOUT) {
		t.Error("the sentinels do not unwrap to their errnos")
	}
	if errors.Is(ErrNoXen, ErrXenVersion) || errors.Unwrap(ErrXenVersion) != nil {
		t.Error("the library's own codes are distinct and unwrap to nothing")
	}
	if s := err.Error(); s != "edera: Read: no node /x (EDERA_ENOENT)" {
		t.Errorf("Error() = %q", s)
	}
	if s := ErrInvalid.Error(); s != "edera: invalid argument (EDERA_EINVAL)" {
		t.Errorf("a sentinel's Error() = %q", s)
	}
	if Strerror(-22) != "invalid argument" || Errname(-1000) != "EDERA_ENOXEN" {
		t.Errorf("Strerror/Errname: %q %q", Strerror(-22), Errname(-1000))
	}
}

func TestDeadlineIsTimedOutAndDeadlineExceeded(t *testing.T) {
	goctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	<-goctx.Done()
	err := ctxErr("Shutdown", goctx)
	if !errors.Is(err, ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) ||
		!errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("%v: want ErrTimedOut, context.DeadlineExceeded and ETIMEDOUT", err)
	}
	goctx, cancel = context.WithCancel(context.Background())
	cancel()
	if err := ctxErr("Shutdown", goctx); err != context.Canceled {
		t.Fatalf("a cancelled context gives %v, want context.Canceled itself", err)
	}
}

func TestZoneConfigValidation(t *testing.T) {
	ok := ZoneConfig{Name: "z", Kernel: "/boot/vmlinuz"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("a minimal config: %v", err)
	}
	for _, c := range []struct {
		change func(*ZoneConfig)
		says   string
	}{
		{func(c *ZoneConfig) { c.Name = "" }, "Name is required"},
		{func(c *ZoneConfig) { c.Kernel = "" }, "Kernel is required"},
		{func(c *ZoneConfig) { c.Name = "a\x00b" }, "NUL"},
		{func(c *ZoneConfig) { c.Cmdline = "x\x00" }, "NUL"},
		{func(c *ZoneConfig) { c.MemoryMiB, c.MaxMemoryMiB = 256, 128 }, "MaxMemoryMiB 128 is below MemoryMiB 256"},
		{func(c *ZoneConfig) { c.VCPUs, c.MaxVCPUs = 4, 2 }, "MaxVCPUs 2 is below VCPUs 4"},
		{func(c *ZoneConfig) { c.ConsoleMode = 7 }, "ConsoleMode 7"},
		{func(c *ZoneConfig) { c.ConsoleHistoryKiB = 1 << 20 }, "ConsoleHistoryKiB"},
		{func(c *ZoneConfig) { c.Disks = []Disk{{Path: "/x.img"}} }, "Disks[0]: Path and VDev are required"},
		{func(c *ZoneConfig) { c.NICs = []NIC{{}, {}} }, "NICs[0]: Bridge is required"},
		{func(c *ZoneConfig) { c.DeviceTimeout = -time.Second }, "DeviceTimeout"},
	} {
		cfg := ok
		c.change(&cfg)
		err := cfg.Validate()
		if !errors.Is(err, ErrInvalid) || !errors.Is(err, syscall.EINVAL) {
			t.Errorf("%+v: %v, want ErrInvalid", cfg, err)
			continue
		}
		if !strings.Contains(err.Error(), c.says) {
			t.Errorf("%+v: %q does not say %q", cfg, err, c.says)
		}
	}
}

func TestConfigInCMemoryCarriesEveryField(t *testing.T) {
	cfg := ZoneConfig{Name: "web-1", Kernel: "/k", Initrd: "/i", Cmdline: "console=hvc0",
		MemoryMiB: 128, MaxMemoryMiB: 256, VCPUs: 2, MaxVCPUs: 4, StartPaused: true,
		ConsoleMode: ConsoleXenconsoled, ConsoleHistoryKiB: 8, ConsoleLog: "/log",
		ConsoleLogMaxKiB: 99, DeviceTimeout: 1500 * time.Millisecond,
		Disks: []Disk{{Path: "/a.img", VDev: "xvda", ReadOnly: true}, {Path: "/b.img", VDev: "xvdb"}},
		NICs:  []NIC{{Bridge: "br0", MAC: "02:00:00:00:00:01", MTU: 9000}}}
	got := cConfigFields(&cfg)
	want := "web-1 /k /i console=hvc0 128 256 2 4 1 1 8 /log 99 1500 " +
		"[/a.img xvda 1; /b.img xvdb 0] [br0 02:00:00:00:00:01 9000]"
	if got != want {
		t.Fatalf("the C config:\n got %s\nwant %s", got, want)
	}
	def := ZoneConfig{Name: "d", Kernel: "/k"}
	if got := cConfigFields(&def); got != "d /k <nil> <nil> 0 0 0 0 0 0 0 <nil> 0 0 [] []" {
		t.Fatalf("the defaults: %s", got)
	}
}

func TestHandleBookkeeping(t *testing.T) {
	before := HandleCount()
	h := newHandle("x")
	if HandleCount() != before+1 {
		t.Fatalf("count %d after newHandle, %d before", HandleCount(), before)
	}
	deleteHandle(h)
	if HandleCount() != before {
		t.Fatalf("count %d after deleteHandle, %d before", HandleCount(), before)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("deleting a handle twice did not panic")
		}
		if HandleCount() != before {
			t.Fatalf("a failed second delete changed the count: %d, %d before", HandleCount(), before)
		}
	}()
	deleteHandle(h)
}

func TestAbandonedResultIsCleanedUpOnce(t *testing.T) {
	p := newPending("CreateZone")
	cleaned := 0
	p.cleanup = func(r *result) { cleaned++ }
	goctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.wait(goctx); err != context.Canceled {
		t.Fatalf("wait: %v", err)
	}
	p.complete(result{}) // the late success
	if cleaned != 1 {
		t.Fatalf("cleanup ran %d times for a late success", cleaned)
	}
	p.complete(result{err: ErrIO}) // a late failure leaves nothing to undo
	if cleaned != 1 {
		t.Fatalf("cleanup ran for a failure")
	}
	// delivered before the waiter gave up: no cleanup, the waiter has it
	q := newPending("CreateZone")
	q.cleanup = func(r *result) { cleaned++ }
	q.complete(result{u64: 7})
	r, err := q.wait(goctx)
	if err != nil || r.u64 != 7 || cleaned != 1 {
		t.Fatalf("a result ready before cancellation: %v %v, cleanups %d", r, err, cleaned)
	}
}

// Every function the library exports is reached by the bindings, except
// the blocking (_sync) forms (the bindings block on channels instead, never
// running the loop from a caller) and those listed here with their reason.
func TestBindingsReachEveryExportedFunction(t *testing.T) {
	notUsed := map[string]string{
		"edera_ctx_loop":            "the bindings make the loop themselves (shim.c)",
		"edera_host_info_get":       "HostInfo uses the asynchronous form",
		"edera_host_info_init":      "the asynchronous form fills its own",
		"edera_channel_config_init": "shim.c fills its own config",
		"edera_channel_stats_init":  "shim.c fills its own stats",
		"edera_channel_zone":        "a Channel knows its Zone",
		"edera_workload_process":    "a Workload knows its Process",
		"edera_process_workload":    "a Process knows its Workload",
		"edera_pool_config_init":    "shim.c fills its own config",
		"edera_pool_stats_init":     "shim.c fills its own stats",
	}
	sym, err := os.ReadFile("../../lib/libedera.sym")
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	files, _ := filepath.Glob("*.go")
	files = append(files, "shim.c", "shim.h")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	code := src.String()
	re := regexp.MustCompile(`^\s*(edera_[a-z0-9_]+);`)
	n := 0
	sc := bufio.NewScanner(strings.NewReader(string(sym)))
	for sc.Scan() {
		m := re.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		n++
		name := m[1]
		if strings.HasSuffix(name, "_sync") {
			continue
		}
		if _, ok := notUsed[name]; ok {
			continue
		}
		if !regexp.MustCompile(`\b` + name + `\(`).MatchString(code) {
			t.Errorf("%s is exported by the library but not reached by the Go bindings", name)
		}
	}
	if n < 90 {
		t.Fatalf("read only %d symbols from lib/libedera.sym", n)
	}
}

// Every exported name of the package has a doc comment (godoc).
func TestEveryExportedNameIsDocumented(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	pkg := pkgs["edera"]
	if pkg == nil {
		t.Fatal("no package edera here")
	}
	n := 0
	missing := func(pos token.Pos, name string) {
		t.Errorf("%s: %s has no doc comment", fset.Position(pos), name)
	}
	for _, f := range pkg.Files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv != nil {
					rt := d.Recv.List[0].Type
					if st, ok := rt.(*ast.StarExpr); ok {
						rt = st.X
					}
					if id, ok := rt.(*ast.Ident); ok && !id.IsExported() {
						continue
					}
				}
				n++
				if d.Doc == nil && d.Name.Name != "String" && d.Name.Name != "Error" {
					missing(d.Pos(), d.Name.Name)
				}
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					switch sp := sp.(type) {
					case *ast.TypeSpec:
						if sp.Name.IsExported() {
							n++
							if d.Doc == nil && sp.Doc == nil {
								missing(sp.Pos(), sp.Name.Name)
							}
						}
					case *ast.ValueSpec:
						for _, id := range sp.Names {
							if id.IsExported() {
								n++
								if d.Doc == nil && sp.Doc == nil && sp.Comment == nil {
									missing(id.Pos(), id.Name)
								}
							}
						}
					}
				}
			}
		}
	}
	if n < 100 {
		t.Fatalf("found only %d exported names", n)
	}
}

func TestWorkloadConfigValidation(t *testing.T) {
	ok := WorkloadConfig{Name: "w", Image: "/img"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("a minimal config: %v", err)
	}
	for _, c := range []struct {
		change func(*WorkloadConfig)
		says   string
	}{
		{func(c *WorkloadConfig) { c.Name = "" }, "Name is required"},
		{func(c *WorkloadConfig) { c.Image = "" }, "Image is required"},
		{func(c *WorkloadConfig) { c.RootFS = "/r" }, `Image "/img" and RootFS "/r": give one of them`},
		{func(c *WorkloadConfig) { c.Image, c.RootFS = "", "/r" }, `RootFS "/r" has no image config`},
		{func(c *WorkloadConfig) { c.Kernel = "/k\x00" }, "NUL"},
		{func(c *WorkloadConfig) { c.DNS = []string{"1.1.1.1\x00"} }, "NUL"},
		{func(c *WorkloadConfig) { c.Timeout = -time.Second }, "Timeout is negative"},
		{func(c *WorkloadConfig) { c.OutputBuffer = -1 }, "OutputBuffer is negative"},
		{func(c *WorkloadConfig) { c.Disks = []Disk{{VDev: "xvdb"}} }, "Disks[0]: Path and VDev are required"},
		{func(c *WorkloadConfig) { c.NICs = []NIC{{}} }, "NICs[0]: Bridge is required"},
		{func(c *WorkloadConfig) { c.Process.Args = []string{"a\x00"} }, "NUL"},
		{func(c *WorkloadConfig) { c.Process.Env = []string{"NOVALUE"} }, `Env entry "NOVALUE" is not NAME=value`},
		{func(c *WorkloadConfig) { c.Process.Env = []string{"=x"} }, `Env entry "=x"`},
		{func(c *WorkloadConfig) { c.Process.Rlimits = make([]Rlimit, ProcessRlimitsMax+1) }, "17 Rlimits (at most 16)"},
		{func(c *WorkloadConfig) { c.Process.Rlimits = []Rlimit{{Resource: 7, Soft: 2, Hard: 1}} }, "Rlimits[0]: Soft 2 is above Hard 1"},
	} {
		cfg := ok
		c.change(&cfg)
		err := cfg.Validate()
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", cfg, err)
			continue
		}
		if !strings.Contains(err.Error(), c.says) {
			t.Errorf("%+v: %q does not say %q", cfg, err, c.says)
		}
	}
	exec := ProcessConfig{}
	if err := exec.validate("Exec", true); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "Args are required") {
		t.Errorf("an exec without Args: %v", err)
	}
}

func TestWorkloadConfigInCMemoryCarriesEveryField(t *testing.T) {
	cfg := WorkloadConfig{Name: "wl", Image: "/img.tar", ImageName: "test", CacheDir: "/cache",
		CacheMaxMiB: 99, Kernel: "/k", ModulesDir: "/m", Init: "/init", MemoryMiB: 192, VCPUs: 2,
		Disks: []Disk{{Path: "/d.img", VDev: "xvdb"}}, NICs: []NIC{{Bridge: "br0"}},
		Hostname: "h", Address: "10.0.0.2/24", Gateway: "10.0.0.1", DNS: []string{"1.1.1.1", "9.9.9.9"},
		Timeout: 1500 * time.Millisecond,
		Process: ProcessConfig{Args: []string{"/bin/sh", "-c", "x"}, Env: []string{"A=1"}, Cwd: "/tmp",
			User: "edera:extra", Terminal: true, Rows: 30, Cols: 100,
			Rlimits: []Rlimit{{Resource: 7, Soft: 256, Hard: 512}, {Resource: 4, Soft: 0, Hard: RlimInfinity}}}}
	want := "wl /img.tar <nil> test /cache 99 /k /m /init 192 2 h 10.0.0.2/24 10.0.0.1 [1.1.1.1,9.9.9.9] 1500 " +
		"disks=1 nics=1 | [/bin/sh,-c,x] [A=1] /tmp edera:extra 1 30x100 rl7=256:512 rl4=0:18446744073709551615"
	if got := cWorkloadFields(&cfg); got != want {
		t.Fatalf("the C config:\n got %s\nwant %s", got, want)
	}
	root := WorkloadConfig{Name: "r", RootFS: "/rootfs", Process: ProcessConfig{Args: []string{"/bin/true"}}}
	if err := root.Validate(); err != nil {
		t.Fatalf("a root directory with args: %v", err)
	}
	if got := cWorkloadFields(&root); !strings.HasPrefix(got, "r <nil> /rootfs <nil> ") {
		t.Fatalf("a root directory's config: %s", got)
	}
	def := WorkloadConfig{Name: "d", Image: "/i"}
	if got := cWorkloadFields(&def); got != "d /i <nil> <nil> <nil> 0 <nil> <nil> <nil> 0 0 <nil> <nil> <nil> [] 0 disks=0 nics=0 | [] [] <nil> <nil> 0 0x0" {
		t.Fatalf("the defaults: %s", got)
	}
}

func TestImagesOfAnEmptyAndABadCache(t *testing.T) {
	dir := t.TempDir()
	ims, err := Images(dir)
	if err != nil || len(ims) != 0 {
		t.Fatalf("an empty cache: %v, %v", ims, err)
	}
	if n, f, err := PruneImages(dir, 0); err != nil || n != 0 || f != 0 {
		t.Fatalf("pruning an empty cache: %d, %d, %v", n, f, err)
	}
	if ims, err := Images(filepath.Join(dir, "missing")); err != nil || len(ims) != 0 {
		t.Fatalf("a missing cache is an empty one: %v, %v", ims, err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Images(file); err == nil {
		t.Errorf("a file as the cache directory: no error")
	} else {
		t.Logf("a file as the cache directory: %v", err)
	}
	if _, err := Images("a\x00b"); !errors.Is(err, ErrInvalid) {
		t.Errorf("a NUL in the path: %v", err)
	}
}

func TestExitStatusCodes(t *testing.T) {
	if s := (ExitStatus{Code: 7}); s.ExitCode() != 7 || s.String() != "exit code 7" {
		t.Errorf("%v: ExitCode %d", s, s.ExitCode())
	}
	if s := (ExitStatus{Code: -1, Signal: syscall.SIGKILL}); s.ExitCode() != 137 || !strings.Contains(s.String(), "signal 9") {
		t.Errorf("%v: ExitCode %d", s, s.ExitCode())
	}
}
