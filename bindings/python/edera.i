/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The SWIG interface of libedera: the module edera.capi (extension
 * edera._capi), generated from the public headers themselves (%include
 * below), with typemaps that make it usable from Python:
 *
 *  - a negative EDERA_E* return raises edera.Error (an OSError subclass,
 *    or a subclass of the builtin one its errno maps to: FileNotFoundError
 *    for EDERA_ENOENT...), with .code, .name, .errno and the message of
 *    edera_last_error() read right after the failing call;
 *  - each (callback, void *data) pair is one Python callable, called by a
 *    C trampoline that takes the GIL.  One-shot callbacks (completions) hold
 *    a reference from a successful start to their only call (released at
 *    once when the start fails).  Callbacks C keeps until an explicit end
 *    (watches, exit events, console output, writable, event channels) are
 *    *borrowed*: whoever registers them keeps the callable alive until the
 *    matching remove/close/unsubscribe or the end of the zone or context —
 *    the edera package does, in the object that owns the handle;
 *  - an exception raised in a callback is kept and raised from the next
 *    call into this module that can run callbacks (ed_py_loop_run, every
 *    _sync call, edera_ctx_close, ...; not from calls that hand C a
 *    callback, listed at ED_NO_PENDING_CHECK): never lost;
 *  - out-parameters become return values; results the library allocates
 *    are copied and released with edera_free;
 *  - every call releases the GIL while in C (threads="1").
 *
 * Thread model: one context is used from one thread at a time, as in C.
 */
%module(package="edera", threads="1") capi

/* Python signatures in the raw functions' docstrings. */
%feature("autodoc", "1");

%{
#define SWIG_FILE_WITH_INIT
#include <stdlib.h>
#include <string.h>
#include <edera/edera.h>
#include <uv.h>

/* SWIG defines it; declared for -Wmissing-prototypes. */
PyMODINIT_FUNC PyInit__capi(void);

static PyObject *ed_py_error;       /* edera.Error */
static PyObject *ed_py_error_map;   /* code -> subclass of edera.Error */
static PyObject *ed_py_pending;     /* exceptions raised in callbacks, oldest first */

/* Raise edera.Error (or the subclass mapped to CODE) with the message the
 * library left for the calling thread. */
static void ed_py_set_error(int code)
{
	const char *msg = edera_last_error();
	PyObject *cls, *exc, *args, *v;

	if (!msg || !*msg || edera_last_error_code() != code)
		msg = edera_strerror(code);
	v = PyLong_FromLong(code);
	cls = v && ed_py_error_map ? PyDict_GetItem(ed_py_error_map, v) : NULL;
	Py_XDECREF(v);
	if (!cls)
		cls = ed_py_error;
	if (code > -1000)
		args = Py_BuildValue("(is)", -code, msg);
	else
		args = Py_BuildValue("(s)", msg);
	if (!args)
		return;
	exc = PyObject_Call(cls, args, NULL);
	Py_DECREF(args);
	if (!exc)
		return;
	v = PyLong_FromLong(code);
	if (v) {
		PyObject_SetAttrString(exc, "code", v);
		Py_DECREF(v);
	}
	v = PyUnicode_FromString(edera_errname(code));
	if (v) {
		PyObject_SetAttrString(exc, "name", v);
		Py_DECREF(v);
	}
	PyErr_SetObject(cls, exc);
	Py_DECREF(exc);
}

/* With the GIL: keep the exception a callback raised for the next call. */
static void ed_py_keep_exception(void)
{
	PyObject *type, *value, *tb;

	PyErr_Fetch(&type, &value, &tb);
	PyErr_NormalizeException(&type, &value, &tb);
	if (tb && value)
		PyException_SetTraceback(value, tb);
	if (value && ed_py_pending && PyList_Append(ed_py_pending, value) == 0) {
		Py_XDECREF(type);
		Py_XDECREF(value);
		Py_XDECREF(tb);
		return;
	}
	/* cannot keep it (no memory): at least say so */
	PyErr_Restore(type, value, tb);
	PyErr_WriteUnraisable(NULL);
}

/* With the GIL: raise the oldest kept exception; 1 if there was one. */
static int ed_py_raise_pending(void)
{
	PyObject *exc;

	if (!ed_py_pending || PyList_GET_SIZE(ed_py_pending) == 0)
		return 0;
	exc = PyList_GET_ITEM(ed_py_pending, 0);
	Py_INCREF(exc);
	PySequence_DelItem(ed_py_pending, 0);
	PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
	Py_DECREF(exc);
	return 1;
}

/* Call FN(ARGS) with the GIL held; a raised exception is kept.  Steals
 * ARGS.  Returns the result (new reference) or NULL. */
static PyObject *ed_py_call(PyObject *fn, PyObject *args)
{
	PyObject *r;

	if (!args) {
		ed_py_keep_exception();
		return NULL;
	}
	r = PyObject_CallObject(fn, args);
	Py_DECREF(args);
	if (!r)
		ed_py_keep_exception();
	return r;
}

#define ED_PTR(p, T) SWIG_NewPointerObj((void *)(p), SWIGTYPE_p_##T, 0)

/* A copy of a result struct the caller owns (freed by its proxy). */
static PyObject *ed_py_struct_copy(const void *src, size_t sz, swig_type_info *ty)
{
	void *p;

	if (!src)
		Py_RETURN_NONE;
	p = calloc(1, sz);
	if (!p)
		return PyErr_NoMemory();
	memcpy(p, src, sz);
	return SWIG_NewPointerObj(p, ty, SWIG_POINTER_OWN);
}

static PyObject *ed_py_names(const char *const *names, size_t n)
{
	PyObject *l;

	if (!names)
		Py_RETURN_NONE;
	l = PyList_New((Py_ssize_t)n);
	for (size_t i = 0; l && i < n; i++) {
		PyObject *s = PyUnicode_DecodeUTF8(names[i], (Py_ssize_t)strlen(names[i]),
		                                   "surrogateescape");
		if (!s) {
			Py_CLEAR(l);
			break;
		}
		PyList_SET_ITEM(l, (Py_ssize_t)i, s);
	}
	return l;
}

static PyObject *ed_py_perms(const edera_xs_perm *perms, size_t n)
{
	PyObject *l;

	if (!perms)
		Py_RETURN_NONE;
	l = PyList_New((Py_ssize_t)n);
	for (size_t i = 0; l && i < n; i++) {
		PyObject *t = Py_BuildValue("(II)", (unsigned int)perms[i].domid,
		                            (unsigned int)perms[i].perm);
		if (!t) {
			Py_CLEAR(l);
			break;
		}
		PyList_SET_ITEM(l, (Py_ssize_t)i, t);
	}
	return l;
}

static PyObject *ed_py_bytes(const char *b, size_t len)
{
	if (!b)
		Py_RETURN_NONE;
	return PyBytes_FromStringAndSize(b, (Py_ssize_t)len);
}

/* ---- trampolines ----------------------------------------------------------
 * One per callback type.  ONESHOT ones release their reference after the
 * call; the others borrow it. */
#define ED_TRAMP_BEGIN PyGILState_STATE gil = PyGILState_Ensure(); PyObject *r
#define ED_TRAMP_END(release)          \
	Py_XDECREF(r);                 \
	if (release)                   \
		Py_DECREF((PyObject *)data); \
	PyGILState_Release(gil)

static void ed_py_host_info_cb(edera_ctx *ctx, int status, const edera_host_info *info,
                               void *data)
{
	ED_TRAMP_BEGIN;
	PyObject *o = ed_py_struct_copy(info, sizeof(*info), SWIGTYPE_p_edera_host_info);

	r = o ? ed_py_call((PyObject *)data, Py_BuildValue("(iN)", status, o))
	      : (ed_py_keep_exception(), NULL);
	ED_TRAMP_END(1);
}

static void ed_py_done_cb(edera_ctx *ctx, int status, void *data)
{
	ED_TRAMP_BEGIN;
	r = ed_py_call((PyObject *)data, Py_BuildValue("(i)", status));
	ED_TRAMP_END(1);
}

static void ed_py_value_cb(edera_ctx *ctx, int status, const char *value, size_t len, void *data)
{
	ED_TRAMP_BEGIN;
	r = ed_py_call((PyObject *)data, Py_BuildValue("(iN)", status, ed_py_bytes(value, len)));
	ED_TRAMP_END(1);
}

static void ed_py_list_cb(edera_ctx *ctx, int status, const char *const *names, size_t n,
                          void *data)
{
	ED_TRAMP_BEGIN;
	r = ed_py_call((PyObject *)data, Py_BuildValue("(iN)", status, ed_py_names(names, n)));
	ED_TRAMP_END(1);
}

static void ed_py_perms_cb(edera_ctx *ctx, int status, const edera_xs_perm *perms, size_t n,
                           void *data)
{
	ED_TRAMP_BEGIN;
	r = ed_py_call((PyObject *)data, Py_BuildValue("(iN)", status, ed_py_perms(perms, n)));
	ED_TRAMP_END(1);
}

static void ed_py_watch_cb(edera_ctx *ctx, int status, const char *path, void *data)
{
	ED_TRAMP_BEGIN;
	r = ed_py_call((PyObject *)data, Py_BuildValue("(iz)", status, path));
	ED_TRAMP_END(0);
}

/* A transaction's two callbacks share one data: a (body, done) pair, held
 * until DONE. */
static void ed_py_txn_body_cb(edera_ctx *ctx, edera_xs_txn *txn, void *data)
{
	ED_TRAMP_BEGIN;
	PyObject *body = PyTuple_GET_ITEM((PyObject *)data, 0);

	r = ed_py_call(body, Py_BuildValue("(N)", ED_PTR(txn, edera_xs_txn)));
	ED_TRAMP_END(0);
}

static void ed_py_txn_done_cb(edera_ctx *ctx, int status, void *data)
{
	ED_TRAMP_BEGIN;
	PyObject *done = PyTuple_GET_ITEM((PyObject *)data, 1);

	r = ed_py_call(done, Py_BuildValue("(i)", status));
	ED_TRAMP_END(1);
}

/* The blocking transaction's body: runs during the call (borrowed).  An
 * exception aborts the transaction; it is raised from the call. */
static int ed_py_txn_sync_body_cb(edera_ctx *ctx, edera_xs_txn *txn, void *data)
{
	int rc = 0;
	ED_TRAMP_BEGIN;

	r = ed_py_call((PyObject *)data, Py_BuildValue("(N)", ED_PTR(txn, edera_xs_txn)));
	if (!r)
		rc = EDERA_ECANCELED;
	else if (PyLong_Check(r))
		rc = (int)PyLong_AsLong(r);
	ED_TRAMP_END(0);
	return rc;
}

static void ed_py_zone_exit_cb(edera_ctx *ctx, edera_zone *zone, int reason, void *data)
{
	ED_TRAMP_BEGIN;
	r = ed_py_call((PyObject *)data, Py_BuildValue("(Ni)", ED_PTR(zone, edera_zone), reason));
	ED_TRAMP_END(0);
}

static void ed_py_zone_create_cb(edera_ctx *ctx, int status, edera_zone *zone, void *data)
{
	ED_TRAMP_BEGIN;
	PyObject *z = zone ? ED_PTR(zone, edera_zone) : (Py_INCREF(Py_None), Py_None);

	r = ed_py_call((PyObject *)data, Py_BuildValue("(iN)", status, z));
	ED_TRAMP_END(1);
}

static void ed_py_zone_done_cb(edera_ctx *ctx, int status, edera_zone *zone, void *data)
{
	ED_TRAMP_BEGIN;
	PyObject *z = zone ? ED_PTR(zone, edera_zone) : (Py_INCREF(Py_None), Py_None);

	r = ed_py_call((PyObject *)data, Py_BuildValue("(iN)", status, z));
	ED_TRAMP_END(1);
}

static void ed_py_reattach_cb(edera_ctx *ctx, int status, unsigned int attached,
                              unsigned int cleaned, void *data)
{
	ED_TRAMP_BEGIN;
	r = ed_py_call((PyObject *)data, Py_BuildValue("(iII)", status, attached, cleaned));
	ED_TRAMP_END(1);
}

static void ed_py_memory_cb(edera_ctx *ctx, int status, edera_zone *zone, uint64_t reached_kib,
                            void *data)
{
	ED_TRAMP_BEGIN;
	r = ed_py_call((PyObject *)data, Py_BuildValue("(iNK)", status, ED_PTR(zone, edera_zone),
	                                               (unsigned long long)reached_kib));
	ED_TRAMP_END(1);
}

static void ed_py_output_cb(edera_ctx *ctx, edera_zone *zone, const char *bytes, size_t len,
                            void *data)
{
	ED_TRAMP_BEGIN;
	r = ed_py_call((PyObject *)data, Py_BuildValue("(Ny#)", ED_PTR(zone, edera_zone), bytes,
	                                               (Py_ssize_t)len));
	ED_TRAMP_END(0);
}

static void ed_py_writable_cb(edera_ctx *ctx, edera_zone *zone, void *data)
{
	ED_TRAMP_BEGIN;
	r = ed_py_call((PyObject *)data, Py_BuildValue("(N)", ED_PTR(zone, edera_zone)));
	ED_TRAMP_END(0);
}

static void ed_py_device_cb(edera_ctx *ctx, int status, edera_device *dev, void *data)
{
	ED_TRAMP_BEGIN;
	PyObject *d = dev ? ED_PTR(dev, edera_device) : (Py_INCREF(Py_None), Py_None);

	r = ed_py_call((PyObject *)data, Py_BuildValue("(iN)", status, d));
	ED_TRAMP_END(1);
}

static void ed_py_evtchn_cb(edera_ctx *ctx, edera_evtchn *ch, void *data)
{
	ED_TRAMP_BEGIN;
	r = ed_py_call((PyObject *)data, Py_BuildValue("(N)", ED_PTR(ch, edera_evtchn)));
	ED_TRAMP_END(0);
}

/* ---- input conversions --------------------------------------------------- */

/* A str attribute of a dict as UTF-8 borrowed from the str (the dict keeps
 * it alive for the call).  Missing or None: NULL.  -1 with an exception. */
static int ed_py_opt_str(PyObject *d, const char *key, const char **out)
{
	PyObject *v = PyDict_GetItemString(d, key);

	*out = NULL;
	if (!v || v == Py_None)
		return 0;
	if (!PyUnicode_Check(v)) {
		PyErr_Format(PyExc_TypeError, "%s must be a str, not %.100s", key,
		             Py_TYPE(v)->tp_name);
		return -1;
	}
	*out = PyUnicode_AsUTF8(v);
	return *out ? 0 : -1;
}

static int ed_py_opt_u64(PyObject *d, const char *key, uint64_t *out)
{
	PyObject *v = PyDict_GetItemString(d, key);

	if (!v || v == Py_None)
		return 0;
	if (!PyLong_Check(v)) {
		PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", key,
		             Py_TYPE(v)->tp_name);
		return -1;
	}
	*out = PyLong_AsUnsignedLongLong(v);
	if (PyErr_Occurred()) {
		PyErr_Format(PyExc_ValueError, "%s must be a non-negative int below 2**64", key);
		return -1;
	}
	return 0;
}

static int ed_py_opt_u32(PyObject *d, const char *key, uint32_t *out)
{
	uint64_t v = *out;

	if (ed_py_opt_u64(d, key, &v) < 0)
		return -1;
	if (v > UINT32_MAX) {
		PyErr_Format(PyExc_ValueError, "%s must be below 2**32", key);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int ed_py_opt_bool(PyObject *d, const char *key, int *out)
{
	PyObject *v = PyDict_GetItemString(d, key);
	int b;

	if (!v || v == Py_None)
		return 0;
	b = PyObject_IsTrue(v);
	if (b < 0)
		return -1;
	*out = b;
	return 0;
}

static int ed_py_need_dict(PyObject *o, const char *what)
{
	if (PyDict_Check(o))
		return 0;
	PyErr_Format(PyExc_TypeError, "%s must be a dict, not %.100s", what, Py_TYPE(o)->tp_name);
	return -1;
}

static int ed_py_disk_from(PyObject *d, edera_disk_config *c)
{
	int ro = 0;

	edera_disk_config_init(c);
	if (ed_py_need_dict(d, "a disk config") < 0 || ed_py_opt_str(d, "path", &c->path) < 0 ||
	    ed_py_opt_str(d, "vdev", &c->vdev) < 0 || ed_py_opt_bool(d, "readonly", &ro) < 0)
		return -1;
	c->readonly = ro;
	return 0;
}

static int ed_py_nic_from(PyObject *d, edera_nic_config *c)
{
	edera_nic_config_init(c);
	if (ed_py_need_dict(d, "a NIC config") < 0 || ed_py_opt_str(d, "bridge", &c->bridge) < 0 ||
	    ed_py_opt_str(d, "mac", &c->mac) < 0 || ed_py_opt_u32(d, "mtu", &c->mtu) < 0)
		return -1;
	return 0;
}

#define ED_PY_MAX_DEVS 16
/* A zone config and the device configs it points to, for one call. */
struct ed_py_zone_cfg {
	edera_zone_config cfg;
	edera_disk_config disks[ED_PY_MAX_DEVS];
	const edera_disk_config *disk_ptrs[ED_PY_MAX_DEVS];
	edera_nic_config nics[ED_PY_MAX_DEVS];
	const edera_nic_config *nic_ptrs[ED_PY_MAX_DEVS];
};

static int ed_py_devlist(PyObject *d, const char *key, PyObject **seq)
{
	PyObject *v = PyDict_GetItemString(d, key);

	*seq = NULL;
	if (!v || v == Py_None)
		return 0;
	if (!PyList_Check(v) && !PyTuple_Check(v)) {
		PyErr_Format(PyExc_TypeError, "%s must be a list", key);
		return -1;
	}
	if (PySequence_Fast_GET_SIZE(v) > ED_PY_MAX_DEVS) {
		PyErr_Format(PyExc_ValueError, "at most %d %s", ED_PY_MAX_DEVS, key);
		return -1;
	}
	*seq = v;
	return 0;
}

static int ed_py_zone_cfg_from(PyObject *d, struct ed_py_zone_cfg *z)
{
	edera_zone_config *c = &z->cfg;
	PyObject *disks, *nics;
	uint32_t mode = 0;

	edera_zone_config_init(c);
	if (ed_py_need_dict(d, "a zone config") < 0 || ed_py_opt_str(d, "name", &c->name) < 0 ||
	    ed_py_opt_str(d, "kernel", &c->kernel) < 0 || ed_py_opt_str(d, "initrd", &c->initrd) < 0 ||
	    ed_py_opt_str(d, "cmdline", &c->cmdline) < 0 ||
	    ed_py_opt_u64(d, "memory_mib", &c->memory_mib) < 0 ||
	    ed_py_opt_u64(d, "max_memory_mib", &c->max_memory_mib) < 0 ||
	    ed_py_opt_u32(d, "vcpus", &c->vcpus) < 0 || ed_py_opt_u32(d, "max_vcpus", &c->max_vcpus) < 0 ||
	    ed_py_opt_bool(d, "start_paused", &c->start_paused) < 0 ||
	    ed_py_opt_u32(d, "console_mode", &mode) < 0 ||
	    ed_py_opt_u32(d, "console_history_kib", &c->console_history_kib) < 0 ||
	    ed_py_opt_str(d, "console_log", &c->console_log) < 0 ||
	    ed_py_opt_u32(d, "console_log_max_kib", &c->console_log_max_kib) < 0 ||
	    ed_py_devlist(d, "disks", &disks) < 0 || ed_py_devlist(d, "nics", &nics) < 0)
		return -1;
	{
		uint32_t t = c->device_timeout_ms;

		if (ed_py_opt_u32(d, "device_timeout_ms", &t) < 0)
			return -1;
		c->device_timeout_ms = t;
	}
	c->console_mode = (int)mode;
	if (disks) {
		c->n_disks = (size_t)PySequence_Fast_GET_SIZE(disks);
		for (size_t i = 0; i < c->n_disks; i++) {
			if (ed_py_disk_from(PySequence_Fast_GET_ITEM(disks, i), &z->disks[i]) < 0)
				return -1;
			z->disk_ptrs[i] = &z->disks[i];
		}
		c->disks = c->n_disks ? z->disk_ptrs : NULL;
	}
	if (nics) {
		c->n_nics = (size_t)PySequence_Fast_GET_SIZE(nics);
		for (size_t i = 0; i < c->n_nics; i++) {
			if (ed_py_nic_from(PySequence_Fast_GET_ITEM(nics, i), &z->nics[i]) < 0)
				return -1;
			z->nic_ptrs[i] = &z->nics[i];
		}
		c->nics = c->n_nics ? z->nic_ptrs : NULL;
	}
	return 0;
}

/* ---- shared pages as a buffer --------------------------------------------
 * A buffer-exporting object over a share's pages: memoryview(obj) works and
 * obj.close() refuses (BufferError) while a memoryview is still held, so
 * the edera package never releases pages under a live memoryview. */
typedef struct {
	PyObject_HEAD
	void *addr;
	Py_ssize_t len;
	int readonly;
	Py_ssize_t exports;
} ed_py_pages;

static int ed_py_pages_getbuffer(PyObject *self, Py_buffer *view, int flags)
{
	ed_py_pages *p = (ed_py_pages *)self;

	if (!p->addr) {
		PyErr_SetString(PyExc_ValueError, "the shared pages are gone (released, or the "
		                                  "zone went away)");
		return -1;
	}
	if (PyBuffer_FillInfo(view, self, p->addr, p->len, p->readonly, flags) < 0)
		return -1;
	p->exports++;
	return 0;
}

static void ed_py_pages_releasebuffer(PyObject *self, Py_buffer *view)
{
	((ed_py_pages *)self)->exports--;
}

static PyObject *ed_py_pages_close(PyObject *self, PyObject *unused)
{
	ed_py_pages *p = (ed_py_pages *)self;

	if (p->exports > 0) {
		PyErr_SetString(PyExc_BufferError, "release the memoryviews of the shared pages first");
		return NULL;
	}
	p->addr = NULL;
	Py_RETURN_NONE;
}

static PyObject *ed_py_pages_exports(PyObject *self, void *unused)
{
	return PyLong_FromSsize_t(((ed_py_pages *)self)->exports);
}

static PyBufferProcs ed_py_pages_as_buffer = { ed_py_pages_getbuffer, ed_py_pages_releasebuffer };
static PyMethodDef ed_py_pages_methods[] = {
	{ "close", ed_py_pages_close, METH_NOARGS,
	  "Forget the pages (BufferError while memoryviews of them are held)." },
	{ NULL, NULL, 0, NULL }
};
static PyGetSetDef ed_py_pages_getset[] = {
	{ "exports", ed_py_pages_exports, NULL, "memoryviews held now", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};
static PyTypeObject ed_py_pages_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "edera.capi.SharedPages",
	.tp_basicsize = sizeof(ed_py_pages),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A share's pages as a buffer (see memoryview).",
	.tp_as_buffer = &ed_py_pages_as_buffer,
	.tp_methods = ed_py_pages_methods,
	.tp_getset = ed_py_pages_getset,
};

/* ---- helpers the package calls (named ed_py_*, not part of the C API) --- */

/* The loop's backend fd: asyncio watches it with add_reader. */
static int ed_py_loop_fd(edera_ctx *ctx)
{
	return uv_backend_fd(edera_ctx_loop(ctx));
}
/* Milliseconds until the loop's next timer (0: run now, -1: none). */
static int ed_py_loop_timeout(edera_ctx *ctx)
{
	return uv_backend_timeout(edera_ctx_loop(ctx));
}
/* Run what is ready without blocking; non-zero while handles are active. */
static int ed_py_loop_run(edera_ctx *ctx)
{
	return uv_run(edera_ctx_loop(ctx), UV_RUN_NOWAIT);
}
/* How many callback exceptions wait to be raised. */
static int ed_py_pending_count(void)
{
	return ed_py_pending ? (int)PyList_GET_SIZE(ed_py_pending) : 0;
}
/* The share's pages as a SharedPages buffer (None once the zone went away);
 * READONLY for a read-only mapping (writing it would fault). */
static PyObject *ed_py_share_buffer(edera_share *share, int readonly)
{
	ed_py_pages *p;
	void *addr = edera_share_addr(share);

	if (!addr)
		Py_RETURN_NONE;
	p = PyObject_New(ed_py_pages, &ed_py_pages_type);
	if (!p)
		return NULL;
	p->addr = addr;
	p->len = (Py_ssize_t)edera_share_pages_count(share) * EDERA_PAGE_SIZE;
	p->readonly = readonly != 0;
	p->exports = 0;
	return (PyObject *)p;
}
/* The share's grant references as a list of ints. */
static PyObject *ed_py_share_refs(edera_share *share)
{
	const uint32_t *refs = edera_share_refs(share);
	size_t n = edera_share_pages_count(share);
	PyObject *l = PyList_New((Py_ssize_t)n);

	for (size_t i = 0; l && i < n; i++) {
		PyObject *v = PyLong_FromUnsignedLong(refs[i]);
		if (!v) {
			Py_CLEAR(l);
			break;
		}
		PyList_SET_ITEM(l, (Py_ssize_t)i, v);
	}
	return l;
}
/* Nothing: its wrapper raises the oldest exception a callback raised, if
 * any (the package drains them into asyncio's exception handler). */
static void ed_py_check(void)
{
}
%}

%init %{
	{
		static const struct { int code; const char *name; PyObject **base; const char *doc; }
		subs[] = {
			{ EDERA_ENOENT, "NotFoundError", &PyExc_FileNotFoundError, "EDERA_ENOENT" },
			{ EDERA_EEXIST, "ExistsError", &PyExc_FileExistsError, "EDERA_EEXIST" },
			{ EDERA_EACCES, "PermissionDenied", &PyExc_PermissionError, "EDERA_EACCES" },
			{ EDERA_EPERM, "NotPermitted", &PyExc_PermissionError, "EDERA_EPERM" },
			{ EDERA_ETIMEDOUT, "TimedOut", &PyExc_TimeoutError, "EDERA_ETIMEDOUT" },
			{ EDERA_EAGAIN, "TryAgain", &PyExc_BlockingIOError, "EDERA_EAGAIN" },
			{ EDERA_ECONNRESET, "ConnectionLost", &PyExc_ConnectionResetError,
			  "EDERA_ECONNRESET" },
			{ EDERA_ENOXEN, "NoXenError", NULL, "EDERA_ENOXEN" },
			{ EDERA_EINVAL, "InvalidArgument", NULL, "EDERA_EINVAL" },
			{ EDERA_ECANCELED, "Cancelled", NULL, "EDERA_ECANCELED" },
		};

		ed_py_error = PyErr_NewExceptionWithDoc(
			"edera.Error",
			"A libedera call failed: .code is the EDERA_E* code (negative), .name its\n"
			"symbolic name, .errno the errno it matches (None for libedera's own\n"
			"codes) and str() the library's message for the failure.",
			PyExc_OSError, NULL);
		ed_py_error_map = PyDict_New();
		ed_py_pending = PyList_New(0);
		if (!ed_py_error || !ed_py_error_map || !ed_py_pending ||
		    PyModule_AddObjectRef(m, "Error", ed_py_error) < 0 ||
		    PyModule_AddObjectRef(m, "error_classes", ed_py_error_map) < 0)
			return NULL;
		for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
			char qual[64];
			PyObject *bases = subs[i].base ?
				PyTuple_Pack(2, ed_py_error, *subs[i].base) :
				PyTuple_Pack(1, ed_py_error);
			PyObject *cls, *code;

			snprintf(qual, sizeof(qual), "edera.%s", subs[i].name);
			cls = bases ? PyErr_NewExceptionWithDoc(qual, subs[i].doc, bases, NULL) : NULL;
			Py_XDECREF(bases);
			code = PyLong_FromLong(subs[i].code);
			if (!cls || !code || PyDict_SetItem(ed_py_error_map, code, cls) < 0 ||
			    PyModule_AddObjectRef(m, subs[i].name, cls) < 0)
				return NULL;
			Py_DECREF(cls);
			Py_DECREF(code);
		}
		if (PyType_Ready(&ed_py_pages_type) < 0 ||
		    PyModule_AddObjectRef(m, "SharedPages", (PyObject *)&ed_py_pages_type) < 0)
			return NULL;
	}
%}

/* ---- errors ---------------------------------------------------------------
 * Every int return is a status unless listed below; long returns are a
 * count or a status. */
%typemap(out) int {
	if ($1 < 0) {
		ed_py_set_error($1);
		SWIG_fail;
	}
	$result = PyLong_FromLong($1);
}
%typemap(out) long {
	if ($1 < 0) {
		ed_py_set_error((int)$1);
		SWIG_fail;
	}
	$result = PyLong_FromLong($1);
}
%typemap(out) int edera_xs_connected "$result = PyBool_FromLong($1);";
%typemap(out) int edera_last_error_code "$result = PyLong_FromLong($1);";
%typemap(out) int edera_device_kind "$result = PyLong_FromLong($1);";
%typemap(out) int ed_py_loop_timeout "$result = PyLong_FromLong($1);";
%typemap(out) int ed_py_loop_fd "$result = PyLong_FromLong($1);";
%typemap(out) int ed_py_pending_count "$result = PyLong_FromLong($1);";
%typemap(out) PyObject * "$result = $1; if (!$result) SWIG_fail;";

/* Exceptions kept from callbacks surface from every call that can run
 * callbacks, except those that just handed a one-shot callback to C (their
 * reference is then C's: failing there would release it). */
%exception {
	$action
	if (ed_py_raise_pending())
		SWIG_fail;
}
%define ED_NO_PENDING_CHECK(fn)
%exception fn {
	$action
}
%enddef
ED_NO_PENDING_CHECK(edera_host_info_query)
ED_NO_PENDING_CHECK(edera_xs_read)
ED_NO_PENDING_CHECK(edera_xs_write)
ED_NO_PENDING_CHECK(edera_xs_mkdir)
ED_NO_PENDING_CHECK(edera_xs_rm)
ED_NO_PENDING_CHECK(edera_xs_directory)
ED_NO_PENDING_CHECK(edera_xs_get_perms)
ED_NO_PENDING_CHECK(edera_xs_set_perms)
ED_NO_PENDING_CHECK(edera_xs_introduce)
ED_NO_PENDING_CHECK(edera_xs_release)
ED_NO_PENDING_CHECK(edera_xs_get_domain_path)
ED_NO_PENDING_CHECK(edera_xs_transaction)
ED_NO_PENDING_CHECK(edera_zone_create)
ED_NO_PENDING_CHECK(edera_zone_shutdown)
ED_NO_PENDING_CHECK(edera_zone_destroy)
ED_NO_PENDING_CHECK(edera_zone_reattach)
ED_NO_PENDING_CHECK(edera_zone_set_memory)
ED_NO_PENDING_CHECK(edera_zone_set_vcpus)
ED_NO_PENDING_CHECK(edera_zone_attach_disk)
ED_NO_PENDING_CHECK(edera_zone_attach_nic)
ED_NO_PENDING_CHECK(edera_device_detach)
/* Nor those that register a callback C borrows and return its handle: a
 * kept exception raised there would lose the handle of a registration that
 * succeeded (and the callable with it).  (edera_console_subscribe with
 * EDERA_CONSOLE_REPLAY runs its callback during the call.) */
ED_NO_PENDING_CHECK(edera_console_subscribe)
ED_NO_PENDING_CHECK(edera_console_on_writable)
ED_NO_PENDING_CHECK(edera_xs_watch_add)
ED_NO_PENDING_CHECK(edera_zone_on_exit)
ED_NO_PENDING_CHECK(edera_evtchn_alloc_unbound)
ED_NO_PENDING_CHECK(edera_evtchn_bind)
/* Pure look-ups run no callback. */
ED_NO_PENDING_CHECK(edera_strerror)
ED_NO_PENDING_CHECK(edera_errname)
ED_NO_PENDING_CHECK(edera_last_error)
ED_NO_PENDING_CHECK(edera_last_error_code)
ED_NO_PENDING_CHECK(ed_py_pending_count)
ED_NO_PENDING_CHECK(ed_py_loop_fd)
ED_NO_PENDING_CHECK(ed_py_loop_timeout)

/* ---- callbacks ------------------------------------------------------------ */
%define ED_CALLABLE_CHECK(obj, nullable)
	if (nullable && (obj) == Py_None) {
	} else if (!PyCallable_Check(obj)) {
		PyErr_Format(PyExc_TypeError, "callback must be callable, not %.100s",
		             Py_TYPE(obj)->tp_name);
		SWIG_fail;
	}
%enddef

/* A one-shot callback: referenced from a successful start to its call. */
%define ED_ONESHOT(CBTYPE, TRAMP, NULLABLE)
%typemap(in) (CBTYPE cb, void *data) (PyObject *held = NULL) {
	ED_CALLABLE_CHECK($input, NULLABLE)
	if ($input == Py_None) {
		$1 = NULL;
		$2 = NULL;
	} else {
		Py_INCREF($input);
		held = $input;
		$1 = TRAMP;
		$2 = held;
	}
}
%typemap(argout) (CBTYPE cb, void *data) "held$argnum = NULL; /* C has it now */";
%typemap(freearg) (CBTYPE cb, void *data) "Py_XDECREF(held$argnum);";
%enddef

/* A callback C keeps until an explicit end: borrowed (see the top). */
%define ED_BORROWED(CBTYPE, TRAMP, NULLABLE)
%typemap(in) (CBTYPE cb, void *data) {
	ED_CALLABLE_CHECK($input, NULLABLE)
	$1 = $input == Py_None ? NULL : TRAMP;
	$2 = $input == Py_None ? NULL : $input;
}
%enddef

ED_ONESHOT(edera_host_info_cb, ed_py_host_info_cb, 0)
ED_ONESHOT(edera_xs_done_cb, ed_py_done_cb, 0)
ED_ONESHOT(edera_xs_value_cb, ed_py_value_cb, 0)
ED_ONESHOT(edera_xs_list_cb, ed_py_list_cb, 0)
ED_ONESHOT(edera_xs_perms_cb, ed_py_perms_cb, 0)
ED_ONESHOT(edera_zone_create_cb, ed_py_zone_create_cb, 0)
ED_ONESHOT(edera_zone_done_cb, ed_py_zone_done_cb, 1)
ED_ONESHOT(edera_zone_reattach_cb, ed_py_reattach_cb, 0)
ED_ONESHOT(edera_zone_memory_cb, ed_py_memory_cb, 1)
ED_ONESHOT(edera_device_cb, ed_py_device_cb, 0)
ED_ONESHOT(edera_device_done_cb, ed_py_done_cb, 1)
ED_BORROWED(edera_xs_watch_cb, ed_py_watch_cb, 0)
ED_BORROWED(edera_xs_txn_sync_body_cb, ed_py_txn_sync_body_cb, 0)
ED_BORROWED(edera_zone_exit_cb, ed_py_zone_exit_cb, 1)
ED_BORROWED(edera_console_output_cb, ed_py_output_cb, 0)
ED_BORROWED(edera_console_writable_cb, ed_py_writable_cb, 1)
ED_BORROWED(edera_evtchn_cb, ed_py_evtchn_cb, 0)

/* The sync body callback is named "body" in the header. */
%typemap(in) (edera_xs_txn_sync_body_cb body, void *data) {
	ED_CALLABLE_CHECK($input, 0)
	$1 = ed_py_txn_sync_body_cb;
	$2 = $input;
}

/* A transaction: one (body, done) pair of callables, held until DONE. */
%typemap(in) (edera_xs_txn_body_cb body, edera_xs_done_cb done, void *data)
             (PyObject *held = NULL) {
	if (!PyTuple_Check($input) || PyTuple_GET_SIZE($input) != 2 ||
	    !PyCallable_Check(PyTuple_GET_ITEM($input, 0)) ||
	    !PyCallable_Check(PyTuple_GET_ITEM($input, 1))) {
		PyErr_SetString(PyExc_TypeError, "a transaction takes a (body, done) pair of callables");
		SWIG_fail;
	}
	Py_INCREF($input);
	held = $input;
	$1 = ed_py_txn_body_cb;
	$2 = ed_py_txn_done_cb;
	$3 = held;
}
%typemap(argout) (edera_xs_txn_body_cb body, edera_xs_done_cb done, void *data)
	"held$argnum = NULL;";
%typemap(freearg) (edera_xs_txn_body_cb body, edera_xs_done_cb done, void *data)
	"Py_XDECREF(held$argnum);";

/* ---- out-parameters ------------------------------------------------------- */
%define ED_OUT_HANDLE(T)
%typemap(in, numinputs=0) T **out (T *tmp = NULL) "$1 = &tmp;";
%typemap(argout) T **out {
	$result = SWIG_Python_AppendOutput($result, SWIG_NewPointerObj(tmp$argnum, $descriptor(T *), 0));
}
%enddef
ED_OUT_HANDLE(edera_ctx)
ED_OUT_HANDLE(edera_zone)
ED_OUT_HANDLE(edera_xs_watch)
ED_OUT_HANDLE(edera_device)
ED_OUT_HANDLE(edera_share)
ED_OUT_HANDLE(edera_evtchn)
ED_OUT_HANDLE(edera_console_sub)

/* Result structs: filled by the call into a fresh struct the caller owns. */
%define ED_OUT_STRUCT(T, NAME, INIT)
%typemap(in, numinputs=0) T *NAME (T *tmp = NULL) {
	tmp = calloc(1, sizeof(T));
	if (!tmp) {
		PyErr_NoMemory();
		SWIG_fail;
	}
	INIT(tmp);
	$1 = tmp;
}
%typemap(argout) T *NAME {
	$result = SWIG_Python_AppendOutput($result, SWIG_NewPointerObj(tmp$argnum, $descriptor(T *), SWIG_POINTER_OWN));
	tmp$argnum = NULL;
}
%typemap(freearg) T *NAME "free(tmp$argnum);";
%enddef
ED_OUT_STRUCT(edera_host_info, info, edera_host_info_init)
ED_OUT_STRUCT(edera_zone_info, info, edera_zone_info_init)
ED_OUT_STRUCT(edera_xs_stats, st, edera_xs_stats_init)
ED_OUT_STRUCT(edera_console_stats, st, edera_console_stats_init)
ED_OUT_STRUCT(edera_ctx_options, opts, edera_ctx_options_init)
ED_OUT_STRUCT(edera_zone_config, cfg, edera_zone_config_init)
ED_OUT_STRUCT(edera_disk_config, cfg, edera_disk_config_init)
ED_OUT_STRUCT(edera_nic_config, cfg, edera_nic_config_init)
ED_OUT_STRUCT(edera_pool_stats, out, edera_pool_stats_init)

/* Context options: None (the defaults) or edera_ctx_options_init()'s. */
%typemap(in) const edera_ctx_options *opts {
	if ($input == Py_None)
		$1 = NULL;
	else if (SWIG_ConvertPtr($input, (void **)&$1, $descriptor(edera_ctx_options *), 0) < 0) {
		PyErr_SetString(PyExc_TypeError, "opts must be None or edera_ctx_options_init()'s");
		SWIG_fail;
	}
}

/* Configs as input: a dict of the fields (the edera package builds it from
 * its dataclasses); strings are borrowed for the call (the library copies
 * what it keeps). */
%typemap(in) const edera_zone_config *cfg (struct ed_py_zone_cfg tmp) {
	if (ed_py_zone_cfg_from($input, &tmp) < 0)
		SWIG_fail;
	$1 = &tmp.cfg;
}
%typemap(in) const edera_disk_config *cfg (edera_disk_config tmp) {
	if (ed_py_disk_from($input, &tmp) < 0)
		SWIG_fail;
	$1 = &tmp;
}
%typemap(in) const edera_nic_config *cfg (edera_nic_config tmp) {
	if (ed_py_nic_from($input, &tmp) < 0)
		SWIG_fail;
	$1 = &tmp;
}

/* A pool shape: (memory_mib, vcpus, shells), unsigned 32-bit each (the
 * package checks their range first). */
%typemap(in) const edera_pool_config *cfg (edera_pool_config tmp) {
	unsigned int m, v, n;

	if (!PyArg_ParseTuple($input, "III", &m, &v, &n))
		SWIG_fail;
	edera_pool_config_init(&tmp);
	tmp.memory_mib = m;
	tmp.vcpus = v;
	tmp.shells = n;
	$1 = &tmp;
}

/* (The result-struct typemaps above must not reach these inputs.) */
%typemap(argout) const edera_zone_config *cfg, const edera_disk_config *cfg,
                 const edera_nic_config *cfg, const edera_ctx_options *opts "";
%typemap(freearg) const edera_zone_config *cfg, const edera_disk_config *cfg,
                  const edera_nic_config *cfg, const edera_ctx_options *opts "";

/* Bytes in: bytes-like or str (UTF-8). */
%typemap(in) (const void *value, size_t len) (Py_buffer view, int got = 0),
             (const void *buf, size_t len) (Py_buffer view, int got = 0) {
	if (PyUnicode_Check($input)) {
		Py_ssize_t n;
		const char *s = PyUnicode_AsUTF8AndSize($input, &n);
		if (!s)
			SWIG_fail;
		$1 = (void *)s;
		$2 = (size_t)n;
	} else {
		if (PyObject_GetBuffer($input, &view, PyBUF_SIMPLE) < 0)
			SWIG_fail;
		got = 1;
		$1 = view.buf;
		$2 = (size_t)view.len;
	}
}
%typemap(freearg) (const void *value, size_t len), (const void *buf, size_t len)
	"if (got$argnum) PyBuffer_Release(&view$argnum);";

/* The history: CAP in, bytes out. */
%typemap(in) (char *buf, size_t cap) (char *tmp = NULL) {
	unsigned long long cap = PyLong_AsUnsignedLongLong($input);
	if (PyErr_Occurred())
		SWIG_fail;
	tmp = malloc(cap ? cap : 1);
	if (!tmp) {
		PyErr_NoMemory();
		SWIG_fail;
	}
	$1 = tmp;
	$2 = (size_t)cap;
}
%typemap(argout) (char *buf, size_t cap) {
	Py_XDECREF($result);
	$result = PyBytes_FromStringAndSize(tmp$argnum, (Py_ssize_t)result);
}
%typemap(freearg) (char *buf, size_t cap) "free(tmp$argnum);";

/* Permissions in: a list of (domid, perm) pairs. */
%typemap(in) (const edera_xs_perm *perms, size_t n) (edera_xs_perm *tmp = NULL) {
	Py_ssize_t n;
	if (!PyList_Check($input) && !PyTuple_Check($input)) {
		PyErr_SetString(PyExc_TypeError, "permissions must be a list of (domid, perm) pairs");
		SWIG_fail;
	}
	n = PySequence_Size($input);
	tmp = calloc(n ? (size_t)n : 1, sizeof(*tmp));
	if (!tmp) {
		PyErr_NoMemory();
		SWIG_fail;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *it = PySequence_Fast_GET_ITEM($input, i);
		unsigned int d, p;
		if (!PyTuple_Check(it) || !PyArg_ParseTuple(it, "II", &d, &p)) {
			PyErr_SetString(PyExc_TypeError, "permissions must be a list of (domid, perm) pairs");
			SWIG_fail;
		}
		tmp[i].domid = d;
		tmp[i].perm = p;
	}
	$1 = tmp;
	$2 = (size_t)n;
}
%typemap(freearg) (const edera_xs_perm *perms, size_t n) "free(tmp$argnum);";

/* Grant references in: a list of ints. */
%typemap(in) (const uint32_t *refs, size_t n_pages) (uint32_t *tmp = NULL) {
	Py_ssize_t n;
	if (!PyList_Check($input) && !PyTuple_Check($input)) {
		PyErr_SetString(PyExc_TypeError, "refs must be a list of ints");
		SWIG_fail;
	}
	n = PySequence_Size($input);
	tmp = calloc(n ? (size_t)n : 1, sizeof(*tmp));
	if (!tmp) {
		PyErr_NoMemory();
		SWIG_fail;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		unsigned long v = PyLong_AsUnsignedLong(PySequence_Fast_GET_ITEM($input, i));
		if (PyErr_Occurred() || v > UINT32_MAX) {
			PyErr_Clear();
			PyErr_SetString(PyExc_ValueError, "refs must be ints from 0 to 2**32-1");
			SWIG_fail;
		}
		tmp[i] = (uint32_t)v;
	}
	$1 = tmp;
	$2 = (size_t)n;
}
%typemap(freearg) (const uint32_t *refs, size_t n_pages) "free(tmp$argnum);";

/* Results the library allocates: copied, then edera_free. */
%typemap(in, numinputs=0) (char **value, size_t *len) (char *v = NULL, size_t l = 0)
	"$1 = &v; $2 = &l;";
%typemap(argout) (char **value, size_t *len) {
	$result = SWIG_Python_AppendOutput($result, ed_py_bytes(v$argnum, l$argnum));
}
%typemap(freearg) (char **value, size_t *len) "edera_free(v$argnum);";

%typemap(in, numinputs=0) (char ***names, size_t *n) (char **v = NULL, size_t l = 0)
	"$1 = &v; $2 = &l;";
%typemap(argout) (char ***names, size_t *n) {
	$result = SWIG_Python_AppendOutput($result, ed_py_names((const char *const *)v$argnum, l$argnum));
}
%typemap(freearg) (char ***names, size_t *n) "edera_free(v$argnum);";

%typemap(in, numinputs=0) (edera_xs_perm **perms, size_t *n) (edera_xs_perm *v = NULL, size_t l = 0)
	"$1 = &v; $2 = &l;";
%typemap(argout) (edera_xs_perm **perms, size_t *n) {
	$result = SWIG_Python_AppendOutput($result, ed_py_perms(v$argnum, l$argnum));
}
%typemap(freearg) (edera_xs_perm **perms, size_t *n) "edera_free(v$argnum);";

%typemap(in, numinputs=0) char **path (char *v = NULL) "$1 = &v;";
%typemap(argout) char **path {
	$result = SWIG_Python_AppendOutput($result, v$argnum ? PyUnicode_FromString(v$argnum) : (Py_INCREF(Py_None), Py_None));
}
%typemap(freearg) char **path "edera_free(v$argnum);";

%typemap(in, numinputs=0) unsigned int *attached (unsigned int v = 0),
                          unsigned int *cleaned (unsigned int v = 0) "$1 = &v;";
%typemap(argout) unsigned int *attached, unsigned int *cleaned {
	$result = SWIG_Python_AppendOutput($result, PyLong_FromUnsignedLong(v$argnum));
}
%typemap(in, numinputs=0) uint64_t *reached_kib (uint64_t v = 0) "$1 = &v;";
%typemap(argout) uint64_t *reached_kib {
	$result = SWIG_Python_AppendOutput($result, PyLong_FromUnsignedLongLong(v$argnum));
}

/* Status ints that are 0 on success come back as None when the call has
 * outputs (AppendOutput replaces None). */
%typemap(out) int edera_ctx_open, int edera_zone_create_sync, int edera_xs_watch_add,
              int edera_zone_attach_disk_sync, int edera_zone_attach_nic_sync,
              int edera_share_pages, int edera_share_map, int edera_evtchn_alloc_unbound,
              int edera_evtchn_bind, int edera_console_subscribe, int edera_host_info_get,
              int edera_zone_info_get, int edera_xs_stats_get, int edera_console_stats_get,
              int edera_xs_read_sync, int edera_xs_directory_sync, int edera_xs_get_perms_sync,
              int edera_xs_get_domain_path_sync, int edera_zone_reattach_sync,
              int edera_zone_set_memory_sync, int edera_pool_stats_get {
	if ($1 < 0) {
		ed_py_set_error($1);
		SWIG_fail;
	}
	$result = SWIG_Py_Void();
}
/* edera_console_history's count is the length of the bytes it returns. */

/* The configs' pointer fields are set through the dict typemaps above;
 * their struct proxies are read-only there (a SWIG setter would copy a
 * string and never free it). */
%immutable edera_zone_config::name;
%immutable edera_zone_config::kernel;
%immutable edera_zone_config::initrd;
%immutable edera_zone_config::cmdline;
%immutable edera_zone_config::console_log;
%immutable edera_zone_config::disks;
%immutable edera_zone_config::nics;
%immutable edera_disk_config::path;
%immutable edera_disk_config::vdev;
%immutable edera_nic_config::bridge;
%immutable edera_nic_config::mac;
%immutable edera_ctx_options::loop;
%immutable edera_host_info::xen_extra;

/* The enum and the function share a name in C; Python gets the function. */
%rename("edera_device_kind_enum", %$isenum) edera_device_kind;

%include <stdint.i>

/* The API itself, from its headers. */
#define EDERA_API
%include <edera/common.h>
%include <edera/version.h>
%include <edera/error.h>
%include <edera/ctx.h>
%include <edera/xenstore.h>
%include <edera/zone.h>
%include <edera/console.h>
%include <edera/device.h>
%include <edera/share.h>
%include <edera/pool.h>
%include <edera/edera.h>

/* Helpers of the package (see above). */
int ed_py_loop_fd(edera_ctx *ctx);
int ed_py_loop_timeout(edera_ctx *ctx);
/* These build Python objects: they keep the GIL (threads="1" would
 * release it around every call). */
%nothread ed_py_pending_count;
%nothread ed_py_share_buffer;
%nothread ed_py_share_refs;
int ed_py_loop_run(edera_ctx *ctx);
int ed_py_pending_count(void);
PyObject *ed_py_share_buffer(edera_share *share, int readonly);
PyObject *ed_py_share_refs(edera_share *share);
void ed_py_check(void);

%pythoncode %{
from ._capi import (Error, NotFoundError, ExistsError, PermissionDenied, NotPermitted,  # noqa: F401
                    TimedOut, TryAgain, ConnectionLost, NoXenError, InvalidArgument, Cancelled,
                    SharedPages, error_classes)
%}
