/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Building a PV domain, step by step (each step undone by destroying the
 * domain if a later one fails):
 *   1. read and parse the kernel and initrd; compute the layout
 *   2. create the domain (paused) and set its memory ceiling
 *   3. populate its memory, 2 MiB extents where possible -> the p2m
 *   4. map the boot area; load kernel and initrd (and fill the kernel's
 *      hypercall page if it names one); write the p2m list
 *   5. special pages: xenstore and console rings, their event channels and
 *      reserved grant entries; shared_info
 *   6. bootstrap page tables; start_info
 *   7. unmap, pin the top-level table, set vCPU 0's context */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xenctrl.h>
#include <xen/grant_table.h>
#include <xen/memory.h>

#include "image.h"
#include "internal.h"
#include "layout.h"
#include "pv.h"

#define MAX_INITRD (1024u << 20)
#define SUPERPAGE_ORDER 9
#define SUPERPAGE_PAGES (1u << SUPERPAGE_ORDER)

/* Page-table entry bits. */
#define PTE_PRESENT 0x001ull
#define PTE_RW 0x002ull
#define PTE_USER 0x004ull
#define PTE_ACCESSED 0x020ull
#define PTE_DIRTY 0x040ull
#define PTE_TABLE (PTE_PRESENT | PTE_RW | PTE_USER | PTE_ACCESSED | PTE_DIRTY)

struct build {
	struct ed_hv *hv;
	struct ed_kcache *kc;
	const struct ed_pv_params *p;
	struct ed_kimage *img;
	const struct ed_kernel *kp; /* img->k */
	uint8_t *ramdisk;
	size_t ramdisk_len;
	struct ed_layout l;
	uint32_t domid;
	bool created;
	uint64_t nr_pages;
	xen_pfn_t *p2m; /* pfn -> mfn */
	uint32_t store_evtchn, cons_evtchn; /* a shell's, allocated ahead (else 0) */
	uint8_t *boot;  /* the boot area mapped: pfns [boot_pfn, boot_pfn + boot_pages) */
	uint64_t boot_pfn, boot_pages;
};

static int xc_fail(const char *what)
{
	int e = errno;

	return ed_error(e == ENOMEM ? EDERA_ENOMEM : ed_errno_code(e), "%s: %s", what, strerror(e));
}

static void *boot_ptr(struct build *b, uint64_t pfn)
{
	return b->boot + ((pfn - b->boot_pfn) << ED_PAGE_SHIFT);
}

static int load_images(struct build *b)
{
	int rc;

	ed_trace("build: kernel");
	rc = ed_kcache_get(b->kc, b->p->kernel, &b->img);
	if (rc < 0)
		return rc;
	b->kp = &b->img->k;
	ed_trace("build: kernel ready (%s, %zu KiB of ELF)", b->kp->compression,
	         b->kp->elf_len >> 10);
	if (b->p->ramdisk) {
		rc = ed_read_file(b->p->ramdisk, "initrd", MAX_INITRD, &b->ramdisk, &b->ramdisk_len);
		if (rc == 0)
			ed_trace("build: initrd read");
	}
	return rc;
}

static int create_domain(struct build *b)
{
	struct xen_domctl_createdomain cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.max_vcpus = b->p->max_vcpus;
	/* (all a shell's build knows of P is its memory, vCPUs and UUID) */
	cfg.max_evtchn_port = 1023;
	cfg.max_grant_frames = 32;
	cfg.max_maptrack_frames = 1024;
	cfg.grant_opts = XEN_DOMCTL_GRANT_version(1);
	memcpy(cfg.handle, b->p->uuid, sizeof(cfg.handle));
	b->domid = 0; /* Xen picks */
	if (xc_domain_create(b->hv->xch, &b->domid, &cfg) < 0)
		return xc_fail("creating the domain");
	b->created = true;
	/* The vCPUs themselves are created by this second call, with the same
	 * count the domain was created for. */
	if (xc_domain_max_vcpus(b->hv->xch, b->domid, b->p->max_vcpus) < 0)
		return xc_fail("creating the vCPUs");
	/* Xen's maximum is what the zone boots with (plus slack), not its
	 * ceiling: a guest ballooning up on its own would take memory nobody
	 * gave it.  edera_zone_set_memory moves the maximum with the target. */
	if (xc_domain_setmaxmem(b->hv->xch, b->domid,
	                        b->p->memory_kib + ED_PV_MAXMEM_SLACK_KIB) < 0)
		return xc_fail("setting the memory maximum");
	/* The guest's memory map spans the ceiling, not just what it boots
	 * with: a Linux PV kernel sizes its address space from this map, and
	 * without one it fakes a map of its boot size (plus 8 MiB), beyond
	 * which its balloon driver can never grow. */
	if (xc_domain_set_memmap_limit(b->hv->xch, b->domid, b->p->max_memory_kib) < 0)
		return xc_fail("setting the memory map");
	return 0;
}

/* Populate pfns [0, nr_pages): 2 MiB extents while they fit and Xen has
 * them, single pages otherwise.  For PV, Xen returns each extent's MFN. */
static int populate(struct build *b)
{
	xen_pfn_t *ext;
	uint64_t pfn = 0;

	b->p2m = malloc(b->nr_pages * sizeof(*b->p2m));
	ext = malloc(64 * sizeof(*ext));
	if (!b->p2m || !ext) {
		free(ext);
		return ed_error(EDERA_ENOMEM, "out of memory for the p2m of %llu pages",
		                (unsigned long long)b->nr_pages);
	}
	while (pfn < b->nr_pages) {
		uint64_t left = b->nr_pages - pfn;
		unsigned int n, i;

		if (left >= SUPERPAGE_PAGES && pfn % SUPERPAGE_PAGES == 0) {
			n = (unsigned int)(left / SUPERPAGE_PAGES < 64 ? left / SUPERPAGE_PAGES : 64);
			for (i = 0; i < n; i++)
				ext[i] = pfn + (uint64_t)i * SUPERPAGE_PAGES;
			if (xc_domain_populate_physmap_exact(b->hv->xch, b->domid, n, SUPERPAGE_ORDER,
			                                     0, ext) == 0) {
				for (i = 0; i < n; i++)
					for (unsigned int j = 0; j < SUPERPAGE_PAGES; j++)
						b->p2m[pfn + (uint64_t)i * SUPERPAGE_PAGES + j] = ext[i] + j;
				pfn += (uint64_t)n * SUPERPAGE_PAGES;
				continue;
			}
			/* No contiguous 2 MiB left: fall back to 4 KiB pages. */
		}
		n = (unsigned int)(left < 64 ? left : 64);
		for (i = 0; i < n; i++)
			ext[i] = pfn + i;
		if (xc_domain_populate_physmap_exact(b->hv->xch, b->domid, n, 0, 0, ext) < 0) {
			int e = errno;
			free(ext);
			errno = e;
			return ed_error(EDERA_ENOMEM,
			                "populating %llu MiB for the domain failed at %llu MiB (%s): "
			                "not enough free memory in Xen",
			                (unsigned long long)(b->nr_pages >> 8),
			                (unsigned long long)(pfn >> 8), strerror(e));
		}
		for (i = 0; i < n; i++)
			b->p2m[pfn + i] = ext[i];
		pfn += n;
	}
	free(ext);
	return 0;
}

static int map_boot_area(struct build *b)
{
	int *errs;

	b->boot_pfn = b->l.kernel.pfn;
	b->boot_pages = b->l.stack.pfn + 1 - b->boot_pfn;
	errs = calloc(b->boot_pages, sizeof(*errs));
	if (!errs)
		return ed_error(EDERA_ENOMEM, "out of memory");
	b->boot = xenforeignmemory_map(b->hv->xfm, b->domid, PROT_READ | PROT_WRITE,
	                               b->boot_pages, b->p2m + b->boot_pfn, errs);
	if (!b->boot) {
		int e = errno;
		free(errs);
		errno = e;
		return xc_fail("mapping the domain's boot area");
	}
	for (uint64_t i = 0; i < b->boot_pages; i++) {
		if (errs[i]) {
			int e = errs[i] < 0 ? -errs[i] : errs[i];
			free(errs);
			return ed_error(EDERA_EIO, "mapping boot page %llu failed: %s",
			                (unsigned long long)(b->boot_pfn + i), strerror(e));
		}
	}
	free(errs);
	memset(b->boot, 0, b->boot_pages << ED_PAGE_SHIFT);
	ed_trace("build: %llu boot pages mapped", (unsigned long long)b->boot_pages);
	return 0;
}

static int load_contents(struct build *b)
{
	uint64_t *p2m_list = boot_ptr(b, b->l.p2m.pfn);
	int rc;

	rc = ed_kernel_load(b->kp, boot_ptr(b, b->l.kernel.pfn));
	if (rc < 0)
		return rc;
	if (b->kp->hypercall_page)
		ed_hypercall_page_fill(boot_ptr(b, (b->kp->hypercall_page - b->kp->virt_base) >>
		                                           ED_PAGE_SHIFT));
	if (b->ramdisk_len)
		memcpy(boot_ptr(b, b->l.ramdisk.pfn), b->ramdisk, b->ramdisk_len);
	for (uint64_t i = 0; i < b->nr_pages; i++)
		p2m_list[i] = b->p2m[i];
	ed_trace("build: loaded");
	return 0;
}

/* The reserved grant entries let xenstored and xenconsoled map the rings by
 * grant instead of by foreign mapping. */
static int seed_grants(struct build *b, struct ed_pv_result *r)
{
	xenforeignmemory_resource_handle *res;
	grant_entry_v1_t *g = NULL;

	res = xenforeignmemory_map_resource(b->hv->xfm, b->domid, XENMEM_resource_grant_table,
	                                    XENMEM_resource_grant_table_id_shared, 0, 1,
	                                    (void **)&g, PROT_READ | PROT_WRITE, 0);
	if (!res)
		return xc_fail("mapping the domain's grant table");
	g[GNTTAB_RESERVED_CONSOLE].domid = (domid_t)b->p->backend_domid;
	g[GNTTAB_RESERVED_CONSOLE].frame = (uint32_t)r->cons_mfn;
	g[GNTTAB_RESERVED_XENSTORE].domid = (domid_t)b->p->backend_domid;
	g[GNTTAB_RESERVED_XENSTORE].frame = (uint32_t)r->store_mfn;
	__sync_synchronize(); /* flags last: the entry becomes valid with them */
	g[GNTTAB_RESERVED_CONSOLE].flags = GTF_permit_access;
	g[GNTTAB_RESERVED_XENSTORE].flags = GTF_permit_access;
	xenforeignmemory_unmap_resource(b->hv->xfm, res);
	return 0;
}

/* The xenstore and console event channels, unbound, for the backends'
 * domain to bind (never port 0: Xen keeps it). */
static int alloc_ports(struct build *b)
{
	int port;

	port = xc_evtchn_alloc_unbound(b->hv->xch, b->domid, b->p->backend_domid);
	if (port < 0)
		return xc_fail("allocating the xenstore event channel");
	b->store_evtchn = (uint32_t)port;
	port = xc_evtchn_alloc_unbound(b->hv->xch, b->domid, b->p->backend_domid);
	if (port < 0)
		return xc_fail("allocating the console event channel");
	b->cons_evtchn = (uint32_t)port;
	return 0;
}

static int special_pages(struct build *b, struct ed_pv_result *r)
{
	int rc = b->store_evtchn ? 0 : alloc_ports(b); /* (a shell's are there) */

	if (rc < 0)
		return rc;
	r->store_mfn = b->p2m[b->l.xenstore.pfn];
	r->cons_mfn = b->p2m[b->l.console.pfn];
	r->store_evtchn = b->store_evtchn;
	r->cons_evtchn = b->cons_evtchn;
	return seed_grants(b, r);
}

static int init_shared_info(struct build *b, uint64_t *shared_info_mfn)
{
	xc_dominfo_t info;
	shared_info_t *si;

	if (xc_domain_getinfo(b->hv->xch, b->domid, 1, &info) != 1 || info.domid != b->domid)
		return xc_fail("reading the new domain's information");
	*shared_info_mfn = info.shared_info_frame;
	si = xenforeignmemory_map(b->hv->xfm, b->domid, PROT_READ | PROT_WRITE, 1,
	                          (xen_pfn_t[]){ info.shared_info_frame }, NULL);
	if (!si)
		return xc_fail("mapping shared_info");
	memset(si, 0, ED_PAGE_SIZE);
	/* Events stay masked until the guest is ready for them. */
	for (unsigned int i = 0; i < XEN_LEGACY_MAX_VCPUS; i++)
		si->vcpu_info[i].evtchn_upcall_mask = 1;
	si->arch.max_pfn = b->nr_pages;
	xenforeignmemory_unmap(b->hv->xfm, si, 1);
	return 0;
}

/* Map [virt_base, virt_pgtab_end) to pfns from 0, with the page-table
 * pages themselves read-only (Xen validates that when the tables are
 * pinned). */
static void build_page_tables(struct build *b)
{
	const struct ed_layout *l = &b->l;
	uint64_t base = b->kp->virt_base, next = l->pgtables.pfn;
	uint64_t pt_first = l->pgtables.pfn, pt_last = l->pgtables.pfn + l->pgtables.pages;
	uint64_t *l4, *l3 = NULL, *l2 = NULL, *l1 = NULL;
	uint64_t l3_slot = UINT64_MAX, l2_slot = UINT64_MAX, l1_slot = UINT64_MAX;

	l4 = boot_ptr(b, next++);
	for (uint64_t v = base; v < l->virt_pgtab_end; v += ED_PAGE_SIZE) {
		uint64_t pfn = (v - base) >> ED_PAGE_SHIFT;
		uint64_t pte = ((uint64_t)b->p2m[pfn] << ED_PAGE_SHIFT) | PTE_TABLE;

		if ((v >> 39) != l3_slot) {
			l3_slot = v >> 39;
			l4[(v >> 39) & 511] = ((uint64_t)b->p2m[next] << ED_PAGE_SHIFT) | PTE_TABLE;
			l3 = boot_ptr(b, next++);
		}
		if ((v >> 30) != l2_slot) {
			l2_slot = v >> 30;
			l3[(v >> 30) & 511] = ((uint64_t)b->p2m[next] << ED_PAGE_SHIFT) | PTE_TABLE;
			l2 = boot_ptr(b, next++);
		}
		if ((v >> 21) != l1_slot) {
			l1_slot = v >> 21;
			l2[(v >> 21) & 511] = ((uint64_t)b->p2m[next] << ED_PAGE_SHIFT) | PTE_TABLE;
			l1 = boot_ptr(b, next++);
		}
		if (pfn >= pt_first && pfn < pt_last)
			pte &= ~PTE_RW;
		l1[(v >> 12) & 511] = pte;
	}
}

static void write_start_info(struct build *b, const struct ed_pv_result *r, uint64_t si_mfn)
{
	start_info_t *si = boot_ptr(b, b->l.start_info.pfn);

	memset(si, 0, ED_PAGE_SIZE);
	snprintf(si->magic, sizeof(si->magic), "xen-3.0-x86_64");
	si->nr_pages = b->nr_pages;
	si->shared_info = si_mfn << ED_PAGE_SHIFT;
	si->store_mfn = r->store_mfn;
	si->store_evtchn = r->store_evtchn;
	si->console.domU.mfn = r->cons_mfn;
	si->console.domU.evtchn = r->cons_evtchn;
	si->pt_base = b->l.pgtables.vstart;
	si->nr_pt_frames = b->l.pgtables.pages;
	si->mfn_list = b->l.p2m.vstart;
	si->first_p2m_pfn = b->l.p2m.pfn;
	si->nr_p2m_frames = b->l.p2m.pages;
	if (b->ramdisk_len) {
		si->mod_start = b->l.ramdisk.vstart;
		si->mod_len = b->ramdisk_len;
	}
	if (b->p->cmdline)
		snprintf((char *)si->cmd_line, sizeof(si->cmd_line), "%s", b->p->cmdline);
}

static int start_vcpu(struct build *b)
{
	vcpu_guest_context_any_t ctx;
	struct vcpu_guest_context_x86_64 *c = &ctx.x64;
	struct mmuext_op pin;
	uint64_t l4_mfn = b->p2m[b->l.pgtables.pfn];

	memset(&pin, 0, sizeof(pin));
	pin.cmd = MMUEXT_PIN_L4_TABLE;
	pin.arg1.mfn = l4_mfn;
	if (xc_mmuext_op(b->hv->xch, &pin, 1, b->domid) < 0)
		return xc_fail("pinning the bootstrap page tables");

	memset(&ctx, 0, sizeof(ctx));
	c->user_regs.rip = b->kp->entry;
	c->user_regs.rsp = b->l.stack.vstart + ED_PAGE_SIZE;
	c->user_regs.rsi = b->l.start_info.vstart;
	c->user_regs.rflags = 1 << 9; /* interrupts enabled */
	c->user_regs.cs = FLAT_KERNEL_CS;
	c->user_regs.ss = FLAT_KERNEL_SS;
	c->user_regs.ds = c->user_regs.es = c->user_regs.fs = c->user_regs.gs = FLAT_KERNEL_DS;
	c->kernel_ss = FLAT_KERNEL_SS;
	c->kernel_sp = c->user_regs.rsp;
	c->flags = VGCF_in_kernel | VGCF_online;
	c->ctrlreg[3] = l4_mfn << ED_PAGE_SHIFT;
	if (xc_vcpu_setcontext(b->hv->xch, b->domid, 0, &ctx) < 0)
		return xc_fail("setting vCPU 0's context");
	return 0;
}

static int check_params(const struct ed_pv_params *p)
{
	if (!p->kernel)
		return ed_error(EDERA_EINVAL, "no kernel image given");
	if (p->vcpus == 0)
		return ed_error(EDERA_EINVAL, "a zone needs at least one vCPU (vcpus is 0)");
	if (p->max_vcpus < p->vcpus || p->max_vcpus > 128)
		return ed_error(EDERA_EINVAL, "max_vcpus %u must be between vcpus (%u) and 128",
		                p->max_vcpus, p->vcpus);
	if (p->memory_kib < 16 * 1024)
		return ed_error(EDERA_EINVAL, "memory of %llu KiB is too small (16 MiB at least)",
		                (unsigned long long)p->memory_kib);
	if (p->max_memory_kib < p->memory_kib)
		return ed_error(EDERA_EINVAL, "max memory (%llu KiB) is below memory (%llu KiB)",
		                (unsigned long long)p->max_memory_kib,
		                (unsigned long long)p->memory_kib);
	return 0;
}

int ed_pv_build(struct ed_hv *hv, struct ed_kcache *kc, const struct ed_pv_params *p,
                struct ed_pv_shell *shell, struct ed_pv_result *r)
{
	struct build b;
	struct ed_layout_in in;
	uint64_t si_mfn = 0;
	int rc;

	memset(&b, 0, sizeof(b));
	memset(r, 0, sizeof(*r));
	b.hv = hv;
	b.kc = kc;
	b.p = p;
	rc = check_params(p);
	if (rc == 0 && shell && !ed_pv_shell_fits(shell, p))
		rc = ed_error(EDERA_EINVAL, "internal error: a shell of %llu KiB and %u vCPUs for a "
		              "zone of %llu KiB and %u vCPUs",
		              (unsigned long long)shell->memory_kib, shell->vcpus,
		              (unsigned long long)p->memory_kib, p->vcpus);
	if (rc == 0)
		rc = load_images(&b);
	if (rc < 0)
		goto out; /* (a shell stays its caller's) */
	b.nr_pages = p->memory_kib >> 2;
	memset(&in, 0, sizeof(in));
	in.nr_pages = b.nr_pages;
	in.virt_base = b.kp->virt_base;
	in.virt_kstart = b.kp->virt_kstart;
	in.virt_kend = b.kp->virt_kend;
	in.ramdisk_len = b.ramdisk_len;
	rc = ed_layout_compute(&in, &b.l);
	if (rc < 0)
		goto out;

	ed_die_point("parse");
	ed_trace("build: layout");
	if (shell && !ed_pv_shell_alive(hv, shell)) {
		ed_pv_shell_destroy(hv, shell); /* (its domain is gone: freed only) */
		shell = NULL;
	}
	if (shell) {
		/* steps 2 and 3 were done ahead of time */
		b.domid = shell->domid;
		b.created = true;
		b.p2m = shell->p2m;
		b.store_evtchn = shell->store_evtchn;
		b.cons_evtchn = shell->cons_evtchn;
		memset(shell, 0, sizeof(*shell)); /* the zone's now */
	} else {
		rc = create_domain(&b);
		if (rc == 0)
			rc = populate(&b);
	}
	if (rc == 0)
		ed_die_point("build");
	if (rc == 0)
		rc = map_boot_area(&b);
	if (rc == 0)
		rc = load_contents(&b);
	if (rc == 0)
		rc = special_pages(&b, r);
	if (rc == 0)
		rc = init_shared_info(&b, &si_mfn);
	if (rc == 0) {
		ed_trace("build: rings and shared info");
		build_page_tables(&b);
		write_start_info(&b, r, si_mfn);
		/* Xen refuses to pin tables we still map writable. */
		xenforeignmemory_unmap(hv->xfm, b.boot, b.boot_pages);
		b.boot = NULL;
		rc = start_vcpu(&b);
	}
	if (rc == 0) {
		ed_trace("build: vCPU 0 set");
		r->domid = b.domid;
		r->nr_pages = b.nr_pages;
	}
out:
	if (b.boot)
		xenforeignmemory_unmap(hv->xfm, b.boot, b.boot_pages);
	if (rc < 0 && b.created)
		xc_domain_destroy(hv->xch, b.domid); /* leaves nothing behind */
	ed_kcache_put(kc, b.img);
	free(b.ramdisk);
	free(b.p2m);
	return rc;
}

bool ed_pv_shape_fits(uint64_t memory_kib, uint32_t vcpus, const struct ed_pv_params *p)
{
	return memory_kib == p->memory_kib && p->max_memory_kib == p->memory_kib &&
	       vcpus == p->vcpus && p->max_vcpus == p->vcpus &&
	       p->backend_domid == 0; /* (a shell's event channels are for dom0) */
}

bool ed_pv_shell_fits(const struct ed_pv_shell *s, const struct ed_pv_params *p)
{
	return ed_pv_shape_fits(s->memory_kib, s->vcpus, p);
}

int ed_pv_shell_make(struct ed_hv *hv, uint64_t memory_kib, uint32_t vcpus,
                     const uint8_t uuid[16], struct ed_pv_shell *s)
{
	struct ed_pv_params p;
	struct build b;
	int rc;

	memset(s, 0, sizeof(*s));
	memset(&p, 0, sizeof(p));
	p.memory_kib = p.max_memory_kib = memory_kib;
	p.vcpus = p.max_vcpus = vcpus;
	memcpy(p.uuid, uuid, sizeof(p.uuid));
	memset(&b, 0, sizeof(b));
	b.hv = hv;
	b.p = &p;
	b.nr_pages = memory_kib >> 2;
	rc = create_domain(&b);
	if (rc == 0)
		rc = populate(&b);
	if (rc == 0)
		rc = alloc_ports(&b);
	if (rc < 0) {
		if (b.created)
			xc_domain_destroy(hv->xch, b.domid);
		free(b.p2m);
		return rc;
	}
	s->domid = b.domid;
	memcpy(s->uuid, uuid, sizeof(s->uuid));
	s->memory_kib = memory_kib;
	s->vcpus = vcpus;
	s->p2m = b.p2m;
	s->store_evtchn = b.store_evtchn;
	s->cons_evtchn = b.cons_evtchn;
	return 0;
}

/* Whether S's domain exists, is not dying and is S's (its handle); *DI
 * its information. */
static bool shell_domain(struct ed_hv *hv, const struct ed_pv_shell *s, xc_dominfo_t *di)
{
	return s->domid && xc_domain_getinfo(hv->xch, s->domid, 1, di) == 1 &&
	       di->domid == s->domid && !di->dying &&
	       memcmp(di->handle, s->uuid, sizeof(s->uuid)) == 0;
}

bool ed_pv_shell_alive(struct ed_hv *hv, const struct ed_pv_shell *s)
{
	xc_dominfo_t di;

	return shell_domain(hv, s, &di) && !di.shutdown;
}

int ed_pv_shell_destroy(struct ed_hv *hv, struct ed_pv_shell *s)
{
	xc_dominfo_t di;
	int rc = 0;

	/* (one shut down meanwhile is still the shell's to destroy) */
	if (shell_domain(hv, s, &di) && xc_domain_destroy(hv->xch, s->domid) < 0 && errno != ESRCH)
		rc = ed_error(ed_errno_code(errno), "destroying the shell's domain %u: %s", s->domid,
		              strerror(errno));
	free(s->p2m);
	memset(s, 0, sizeof(*s));
	return rc;
}
