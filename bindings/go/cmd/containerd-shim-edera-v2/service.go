// SPDX-License-Identifier: LGPL-2.1-or-later

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	eventstypes "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/log"
	"github.com/containerd/containerd/mount"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/runtime"
	"github.com/containerd/containerd/runtime/v2/shim"
	taskAPI "github.com/containerd/containerd/runtime/v2/task"
	"github.com/containerd/fifo"
	"github.com/containerd/typeurl"
	ptypes "github.com/gogo/protobuf/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"libedera.dev/edera"
)

// How long a zone may take from creation to its process running (the
// image packed, the kernel booted), and to be destroyed.
const (
	startTimeout   = 10 * time.Minute
	destroyTimeout = 2 * time.Minute
	// how long an ended process's output may take to be read (then its
	// end is published anyway)
	copyTimeout = 30 * time.Second
)

// proc is the container's process (id "") or one exec'd beside it.
type proc struct {
	id                    string
	stdin, stdout, stderr string
	terminal              bool
	spec                  *specs.Process // an exec's

	p        *edera.Process // once started
	status   task.Status
	exitCode uint32
	exitedAt time.Time
	done     chan struct{} // closed at its exit
	copies   sync.WaitGroup
}

type service struct {
	id        string
	ns        string
	publisher shim.Publisher
	shutdown  func()

	mu      sync.Mutex
	ec      *edera.Context // opened at the first Create
	bundle  string
	rootfs  string // where the container's root is (mounted by us if mounted)
	mounted bool
	cfg     edera.WorkloadConfig
	w       *edera.Workload
	init    *proc
	execs   map[string]*proc
	deleted bool
}

var _ shim.Shim = (*service)(nil)

func newService(ctx context.Context, id string, publisher shim.Publisher, shutdown func()) (shim.Shim, error) {
	ns, _ := namespaces.Namespace(ctx)
	return &service{id: id, ns: ns, publisher: publisher, shutdown: shutdown,
		execs: map[string]*proc{}}, nil
}

// zoneName is the zone of namespace NS's container ID: letters, digits,
// '-', '_', '.', at most 64 bytes (a long ID is shortened with a hash).
func zoneName(ns, id string) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') ||
				r == '-' || r == '_' || r == '.' {
				return r
			}
			return '_'
		}, s)
	}
	name := "ctr." + clean(ns) + "." + clean(id)
	if len(name) <= 64 {
		return name
	}
	sum := sha256.Sum256([]byte(ns + "/" + id))
	return name[:47] + "." + hex.EncodeToString(sum[:8])
}

func (s *service) pid() uint32 { return uint32(os.Getpid()) }

func (s *service) publish(ctx context.Context, topic string, ev interface{}) {
	if err := s.publisher.Publish(ctx, topic, ev); err != nil {
		log.G(ctx).WithError(err).Warnf("publishing %s", topic)
	}
}

// grpcErr turns an error into what containerd's client understands.
func grpcErr(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errorsIs(err, edera.ErrNotFound):
		err = fmt.Errorf("%v: %w", err, errdefs.ErrNotFound)
	case errorsIs(err, edera.ErrInvalid):
		err = fmt.Errorf("%v: %w", err, errdefs.ErrInvalidArgument)
	case errorsIs(err, edera.ErrExists):
		err = fmt.Errorf("%v: %w", err, errdefs.ErrAlreadyExists)
	}
	return errdefs.ToGRPC(err)
}

func (s *service) context() (*edera.Context, error) {
	if s.ec != nil {
		return s.ec, nil
	}
	ec, err := edera.Open(edera.Options{})
	if err != nil {
		return nil, err
	}
	s.ec = ec
	return ec, nil
}

// config is the zone's workload config from the bundle's OCI runtime spec.
func workloadConfig(name, rootfs string, sp *specs.Spec) (edera.WorkloadConfig, error) {
	cfg := edera.WorkloadConfig{Name: name, RootFS: rootfs, Hostname: sp.Hostname,
		Kernel: os.Getenv("EDERA_KERNEL"), ModulesDir: os.Getenv("EDERA_MODULES_DIR")}
	if sp.Process == nil || len(sp.Process.Args) == 0 {
		return cfg, fmt.Errorf("the bundle's config.json gives no process args: %w", errdefs.ErrInvalidArgument)
	}
	pc, err := processConfig(sp.Process)
	if err != nil {
		return cfg, err
	}
	cfg.Process = pc
	cfg.MemoryMiB = 256
	if r := sp.Linux; r != nil && r.Resources != nil {
		if m := r.Resources.Memory; m != nil && m.Limit != nil && *m.Limit > 0 {
			cfg.MemoryMiB = uint64(*m.Limit) >> 20
			if cfg.MemoryMiB < 128 {
				cfg.MemoryMiB = 128 // a Linux zone's least
			}
		}
		if c := r.Resources.CPU; c != nil && c.Quota != nil && *c.Quota > 0 && c.Period != nil && *c.Period > 0 {
			n := (uint64(*c.Quota) + *c.Period - 1) / *c.Period
			if n > 64 {
				n = 64
			}
			cfg.VCPUs = uint32(n)
		}
	}
	return cfg, nil
}

var rlimitNames = map[string]int{
	"RLIMIT_AS": syscall.RLIMIT_AS, "RLIMIT_CORE": syscall.RLIMIT_CORE,
	"RLIMIT_CPU": syscall.RLIMIT_CPU, "RLIMIT_DATA": syscall.RLIMIT_DATA,
	"RLIMIT_FSIZE": syscall.RLIMIT_FSIZE, "RLIMIT_NOFILE": syscall.RLIMIT_NOFILE,
	"RLIMIT_STACK": syscall.RLIMIT_STACK, "RLIMIT_NPROC": 6, "RLIMIT_MEMLOCK": 8,
	"RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12,
	"RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15, "RLIMIT_RSS": 5,
}

// processConfig is a process of the OCI runtime spec as the library's.
func processConfig(p *specs.Process) (edera.ProcessConfig, error) {
	pc := edera.ProcessConfig{Args: p.Args, Env: p.Env, Cwd: p.Cwd, Terminal: p.Terminal,
		User: fmt.Sprintf("%d:%d", p.User.UID, p.User.GID)}
	if p.ConsoleSize != nil {
		pc.Rows, pc.Cols = uint16(p.ConsoleSize.Height), uint16(p.ConsoleSize.Width)
	}
	for _, r := range p.Rlimits {
		res, ok := rlimitNames[r.Type]
		if !ok {
			return pc, fmt.Errorf("rlimit %q is not one the zone knows: %w", r.Type, errdefs.ErrInvalidArgument)
		}
		if len(pc.Rlimits) < edera.ProcessRlimitsMax {
			pc.Rlimits = append(pc.Rlimits, edera.Rlimit{Resource: res, Soft: r.Soft, Hard: r.Hard})
		}
	}
	return pc, nil
}

func (s *service) Create(ctx context.Context, r *taskAPI.CreateTaskRequest) (_ *taskAPI.CreateTaskResponse, retErr error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.init != nil {
		return nil, errdefs.ToGRPCf(errdefs.ErrAlreadyExists, "task %s exists", r.ID)
	}
	if r.Checkpoint != "" {
		return nil, errdefs.ToGRPCf(errdefs.ErrNotImplemented, "checkpoints are not supported")
	}
	b, err := os.ReadFile(filepath.Join(r.Bundle, "config.json"))
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	var sp specs.Spec
	if err := json.Unmarshal(b, &sp); err != nil {
		return nil, errdefs.ToGRPCf(errdefs.ErrInvalidArgument, "the bundle's config.json: %v", err)
	}
	s.bundle = r.Bundle
	s.rootfs = filepath.Join(r.Bundle, "rootfs")
	if sp.Root != nil && sp.Root.Path != "" && len(r.Rootfs) == 0 {
		s.rootfs = sp.Root.Path
		if !filepath.IsAbs(s.rootfs) {
			s.rootfs = filepath.Join(r.Bundle, s.rootfs)
		}
	}
	if len(r.Rootfs) > 0 {
		var ms []mount.Mount
		for _, m := range r.Rootfs {
			ms = append(ms, mount.Mount{Type: m.Type, Source: m.Source, Options: m.Options})
		}
		if err := os.MkdirAll(s.rootfs, 0o711); err != nil {
			return nil, errdefs.ToGRPC(err)
		}
		if err := mount.All(ms, s.rootfs); err != nil {
			return nil, errdefs.ToGRPCf(errdefs.ErrUnknown, "mounting the root: %v", err)
		}
		s.mounted = true
		defer func() {
			if retErr != nil {
				_ = mount.UnmountAll(s.rootfs, 0)
				s.mounted = false
			}
		}()
	}
	s.cfg, err = workloadConfig(zoneName(s.ns, r.ID), s.rootfs, &sp)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	s.cfg.Process.Terminal = r.Terminal
	if err := s.cfg.Validate(); err != nil {
		return nil, grpcErr(err)
	}
	if _, err := s.context(); err != nil {
		return nil, grpcErr(err)
	}
	s.init = &proc{id: r.ID, stdin: r.Stdin, stdout: r.Stdout, stderr: r.Stderr,
		terminal: r.Terminal, status: task.StatusCreated, done: make(chan struct{})}
	s.publish(ctx, runtime.TaskCreateEventTopic, &eventstypes.TaskCreate{
		ContainerID: r.ID, Bundle: r.Bundle, Rootfs: r.Rootfs, Pid: s.pid(),
		IO: &eventstypes.TaskIO{Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr, Terminal: r.Terminal}})
	return &taskAPI.CreateTaskResponse{Pid: s.pid()}, nil
}

// getProc is the process EXECID names ("": the container's).
func (s *service) getProc(execID string) (*proc, error) {
	if s.init == nil {
		return nil, errdefs.ToGRPCf(errdefs.ErrNotFound, "no task")
	}
	if execID == "" {
		return s.init, nil
	}
	p, ok := s.execs[execID]
	if !ok {
		return nil, errdefs.ToGRPCf(errdefs.ErrNotFound, "no exec %s", execID)
	}
	return p, nil
}

// relay connects the process's stdio to containerd's FIFOs, on
// goroutines of their own (an open of a FIFO waits for its other end; the
// stdin FIFO's writer may have come and gone already).  Output that cannot
// be delivered (the FIFO cannot be opened) is read and dropped, so the
// zone is never held for it.
func (s *service) relay(ctx context.Context, p *proc) {
	out := func(path string, r io.Reader) {
		p.copies.Add(1)
		go func() {
			defer p.copies.Done()
			if path == "" {
				io.Copy(io.Discard, r)
				return
			}
			// A reader of our own first (as containerd's runc shim does):
			// the open for writing must not wait for one that may never
			// come (ctr run -d exits, perhaps before this runs), which
			// left the process's end unpublished, the task RUNNING
			// after a kill.  It reads nothing: the output goes to
			// whoever else reads.
			fr, err := fifo.OpenFifo(context.Background(), path, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
			if err != nil {
				log.G(ctx).WithError(err).Warnf("opening %s", path)
				io.Copy(io.Discard, r)
				return
			}
			defer fr.Close()
			f, err := fifo.OpenFifo(context.Background(), path, syscall.O_WRONLY, 0)
			if err != nil {
				log.G(ctx).WithError(err).Warnf("opening %s", path)
				io.Copy(io.Discard, r)
				return
			}
			io.Copy(f, r)
			f.Close()
		}()
	}
	out(p.stdout, p.p.Stdout())
	out(p.stderr, p.p.Stderr())
	if p.stdin != "" {
		go func() {
			f, err := fifo.OpenFifo(context.Background(), p.stdin, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
			if err != nil {
				log.G(ctx).WithError(err).Warnf("opening %s", p.stdin)
				return
			}
			io.Copy(p.p, f)
			f.Close()
			_ = p.p.CloseStdin(context.Background())
		}()
	}
}

// watch waits for P's end: its output delivered, then its exit published.
func (s *service) watch(p *proc) {
	st, err := p.p.Wait(context.Background())
	// its output delivered, unless no one reads it (a full pipe): then
	// its end is published anyway
	copied := make(chan struct{})
	go func() {
		p.copies.Wait()
		close(copied)
	}()
	select {
	case <-copied:
	case <-time.After(copyTimeout):
		log.G(context.Background()).Warnf("%s ended; its output is not all read after %v", p.id, copyTimeout)
	}
	code := uint32(st.ExitCode())
	if err != nil {
		code = 255
	}
	s.mu.Lock()
	p.status, p.exitCode, p.exitedAt = task.StatusStopped, code, time.Now()
	close(p.done)
	s.mu.Unlock()
	ctx := namespaces.WithNamespace(context.Background(), s.ns)
	s.publish(ctx, runtime.TaskExitEventTopic, &eventstypes.TaskExit{ContainerID: s.init.id,
		ID: p.id, Pid: s.pid(), ExitStatus: code, ExitedAt: p.exitedAt})
}

func (s *service) Start(ctx context.Context, r *taskAPI.StartRequest) (*taskAPI.StartResponse, error) {
	s.mu.Lock()
	p, err := s.getProc(r.ExecID)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if p.status != task.StatusCreated {
		s.mu.Unlock()
		return nil, errdefs.ToGRPCf(errdefs.ErrFailedPrecondition, "%s is %v, not created", p.id, p.status)
	}
	p.status = task.StatusUnknown // starting
	cfg, w := s.cfg, s.w
	s.mu.Unlock()

	goctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	var ep *edera.Process
	log.G(ctx).Infof("starting %s (exec %q) in zone %s", s.init.id, r.ExecID, cfg.Name)
	if r.ExecID == "" {
		w, err = s.ec.RunWorkload(goctx, cfg)
		if err == nil {
			ep = w.Process()
		}
	} else {
		pc, perr := processConfig(p.spec)
		if perr != nil {
			err = perr
		} else {
			pc.Terminal = p.terminal
			ep, err = w.Exec(goctx, pc)
		}
	}
	log.G(ctx).WithError(err).Infof("started %s (exec %q)", s.init.id, r.ExecID)
	s.mu.Lock()
	if err != nil {
		p.status = task.StatusCreated
		s.mu.Unlock()
		return nil, grpcErr(err)
	}
	if r.ExecID == "" {
		s.w = w
	}
	p.p = ep
	p.status = task.StatusRunning
	s.mu.Unlock()
	s.relay(ctx, p)
	go s.watch(p)
	if r.ExecID == "" {
		s.publish(ctx, runtime.TaskStartEventTopic, &eventstypes.TaskStart{ContainerID: s.init.id, Pid: s.pid()})
	} else {
		s.publish(ctx, runtime.TaskExecStartedEventTopic, &eventstypes.TaskExecStarted{
			ContainerID: s.init.id, ExecID: r.ExecID, Pid: s.pid()})
	}
	return &taskAPI.StartResponse{Pid: s.pid()}, nil
}

// destroy removes the zone (after its workload ended or was killed).
func (s *service) destroy() error {
	if s.w == nil {
		return nil
	}
	goctx, cancel := context.WithTimeout(context.Background(), destroyTimeout)
	defer cancel()
	err := s.w.Zone().Destroy(goctx)
	if errorsIs(err, edera.ErrGone) {
		err = nil
	}
	if err == nil {
		s.w = nil
	}
	return err
}

func (s *service) Delete(ctx context.Context, r *taskAPI.DeleteRequest) (*taskAPI.DeleteResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.getProc(r.ExecID)
	if err != nil {
		return nil, err
	}
	if p.status == task.StatusRunning || p.status == task.StatusUnknown {
		return nil, errdefs.ToGRPCf(errdefs.ErrFailedPrecondition, "%s is running: kill it first", p.id)
	}
	if r.ExecID != "" {
		delete(s.execs, r.ExecID)
		return &taskAPI.DeleteResponse{Pid: s.pid(), ExitStatus: p.exitCode, ExitedAt: p.exitedAt}, nil
	}
	if err := s.destroy(); err != nil {
		return nil, grpcErr(err)
	}
	if s.mounted {
		if err := mount.UnmountAll(s.rootfs, 0); err != nil {
			log.G(ctx).WithError(err).Warn("unmounting the root")
		}
		s.mounted = false
	}
	s.deleted = true
	if p.status == task.StatusCreated { // never started
		p.status, p.exitedAt = task.StatusStopped, time.Now()
		close(p.done)
	}
	s.publish(ctx, runtime.TaskDeleteEventTopic, &eventstypes.TaskDelete{ContainerID: s.init.id,
		Pid: s.pid(), ExitStatus: p.exitCode, ExitedAt: p.exitedAt, ID: s.init.id})
	return &taskAPI.DeleteResponse{Pid: s.pid(), ExitStatus: p.exitCode, ExitedAt: p.exitedAt}, nil
}

func (s *service) Exec(ctx context.Context, r *taskAPI.ExecProcessRequest) (*ptypes.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.init == nil || s.init.status != task.StatusRunning {
		return nil, errdefs.ToGRPCf(errdefs.ErrFailedPrecondition, "the container is not running")
	}
	if _, ok := s.execs[r.ExecID]; ok {
		return nil, errdefs.ToGRPCf(errdefs.ErrAlreadyExists, "exec %s exists", r.ExecID)
	}
	v, err := typeurl.UnmarshalAny(r.Spec)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	sp, ok := v.(*specs.Process)
	if !ok || len(sp.Args) == 0 {
		return nil, errdefs.ToGRPCf(errdefs.ErrInvalidArgument, "an exec needs a process with args")
	}
	s.execs[r.ExecID] = &proc{id: r.ExecID, stdin: r.Stdin, stdout: r.Stdout, stderr: r.Stderr,
		terminal: r.Terminal, spec: sp, status: task.StatusCreated, done: make(chan struct{})}
	s.publish(ctx, runtime.TaskExecAddedEventTopic, &eventstypes.TaskExecAdded{ContainerID: s.init.id, ExecID: r.ExecID})
	return &ptypes.Empty{}, nil
}

func (s *service) State(ctx context.Context, r *taskAPI.StateRequest) (*taskAPI.StateResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.getProc(r.ExecID)
	if err != nil {
		return nil, err
	}
	st := p.status
	if st == task.StatusUnknown {
		st = task.StatusCreated // starting
	}
	return &taskAPI.StateResponse{ID: p.id, Bundle: s.bundle, Pid: s.pid(), Status: st,
		Stdin: p.stdin, Stdout: p.stdout, Stderr: p.stderr, Terminal: p.terminal,
		ExitStatus: p.exitCode, ExitedAt: p.exitedAt, ExecID: r.ExecID}, nil
}

func (s *service) Kill(ctx context.Context, r *taskAPI.KillRequest) (*ptypes.Empty, error) {
	s.mu.Lock()
	p, err := s.getProc(r.ExecID)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	switch p.status {
	case task.StatusCreated:
		// never started: it ends here, as if killed
		p.status, p.exitCode, p.exitedAt = task.StatusStopped, 128+r.Signal, time.Now()
		close(p.done)
		s.mu.Unlock()
		s.publish(ctx, runtime.TaskExitEventTopic, &eventstypes.TaskExit{ContainerID: s.init.id,
			ID: p.id, Pid: s.pid(), ExitStatus: p.exitCode, ExitedAt: p.exitedAt})
		return &ptypes.Empty{}, nil
	case task.StatusStopped:
		s.mu.Unlock()
		return nil, errdefs.ToGRPCf(errdefs.ErrNotFound, "process %s already finished", p.id)
	case task.StatusUnknown:
		s.mu.Unlock()
		return nil, errdefs.ToGRPCf(errdefs.ErrFailedPrecondition, "process %s is starting", p.id)
	}
	ep := p.p
	s.mu.Unlock()
	if err := ep.Kill(ctx, syscall.Signal(r.Signal)); err != nil && !errorsIs(err, edera.ErrInvalid) {
		return nil, grpcErr(err)
	}
	return &ptypes.Empty{}, nil
}

func (s *service) Pids(ctx context.Context, r *taskAPI.PidsRequest) (*taskAPI.PidsResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.init == nil {
		return nil, errdefs.ToGRPCf(errdefs.ErrNotFound, "no task")
	}
	return &taskAPI.PidsResponse{Processes: []*task.ProcessInfo{{Pid: s.pid()}}}, nil
}

func (s *service) CloseIO(ctx context.Context, r *taskAPI.CloseIORequest) (*ptypes.Empty, error) {
	s.mu.Lock()
	p, err := s.getProc(r.ExecID)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if r.Stdin && p.p != nil {
		if err := p.p.CloseStdin(ctx); err != nil && !errorsIs(err, edera.ErrInvalid) {
			return nil, grpcErr(err)
		}
	}
	return &ptypes.Empty{}, nil
}

func (s *service) ResizePty(ctx context.Context, r *taskAPI.ResizePtyRequest) (*ptypes.Empty, error) {
	s.mu.Lock()
	p, err := s.getProc(r.ExecID)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if p.p == nil {
		return &ptypes.Empty{}, nil
	}
	if err := p.p.Resize(ctx, uint16(r.Height), uint16(r.Width)); err != nil && !errorsIs(err, edera.ErrInvalid) {
		return nil, grpcErr(err)
	}
	return &ptypes.Empty{}, nil
}

func (s *service) Wait(ctx context.Context, r *taskAPI.WaitRequest) (*taskAPI.WaitResponse, error) {
	s.mu.Lock()
	p, err := s.getProc(r.ExecID)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return nil, errdefs.ToGRPC(ctx.Err())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return &taskAPI.WaitResponse{ExitStatus: p.exitCode, ExitedAt: p.exitedAt}, nil
}

func (s *service) Stats(ctx context.Context, r *taskAPI.StatsRequest) (*taskAPI.StatsResponse, error) {
	s.mu.Lock()
	w := s.w
	s.mu.Unlock()
	if w == nil {
		return nil, errdefs.ToGRPCf(errdefs.ErrFailedPrecondition, "the container is not running")
	}
	info, err := w.Zone().Info(ctx)
	if err != nil {
		return nil, grpcErr(err)
	}
	any, err := typeurl.MarshalAny(zoneMetrics(info))
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	return &taskAPI.StatsResponse{Stats: any}, nil
}

func (s *service) Connect(ctx context.Context, r *taskAPI.ConnectRequest) (*taskAPI.ConnectResponse, error) {
	return &taskAPI.ConnectResponse{ShimPid: s.pid(), TaskPid: s.pid()}, nil
}

func (s *service) Shutdown(ctx context.Context, r *taskAPI.ShutdownRequest) (*ptypes.Empty, error) {
	s.mu.Lock()
	live := s.init != nil && !s.deleted
	s.mu.Unlock()
	if live {
		return &ptypes.Empty{}, nil // its task is not deleted yet
	}
	if s.ec != nil {
		s.ec.Close()
	}
	s.shutdown()
	return &ptypes.Empty{}, nil
}

// Not implemented: zones are not paused, checkpointed or resized through
// the shim yet.

func (s *service) Pause(ctx context.Context, r *taskAPI.PauseRequest) (*ptypes.Empty, error) {
	return nil, errdefs.ToGRPC(errdefs.ErrNotImplemented)
}

func (s *service) Resume(ctx context.Context, r *taskAPI.ResumeRequest) (*ptypes.Empty, error) {
	return nil, errdefs.ToGRPC(errdefs.ErrNotImplemented)
}

func (s *service) Checkpoint(ctx context.Context, r *taskAPI.CheckpointTaskRequest) (*ptypes.Empty, error) {
	return nil, errdefs.ToGRPC(errdefs.ErrNotImplemented)
}

func (s *service) Update(ctx context.Context, r *taskAPI.UpdateTaskRequest) (*ptypes.Empty, error) {
	return nil, errdefs.ToGRPC(errdefs.ErrNotImplemented)
}

// Cleanup runs for "containerd-shim-edera-v2 ... delete" (in the bundle)
// when the shim serving the task is gone: its zone, if any is left, is
// taken back (re-attach) and destroyed, and the root unmounted.
func (s *service) Cleanup(ctx context.Context) (*taskAPI.DeleteResponse, error) {
	bundle, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	ec, err := edera.Open(edera.Options{})
	if err != nil {
		return nil, err
	}
	defer ec.Close()
	goctx, cancel := context.WithTimeout(ctx, destroyTimeout)
	defer cancel()
	if _, _, err := ec.Reattach(goctx); err != nil {
		log.G(ctx).WithError(err).Warn("re-attach")
	}
	if z, err := ec.Zone(goctx, zoneName(s.ns, s.id)); err == nil {
		if err := z.Destroy(goctx); err != nil {
			return nil, err
		}
	}
	_ = mount.UnmountAll(filepath.Join(bundle, "rootfs"), 0)
	return &taskAPI.DeleteResponse{ExitedAt: time.Now(), ExitStatus: 128 + uint32(syscall.SIGKILL)}, nil
}
