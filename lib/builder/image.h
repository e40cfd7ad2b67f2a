/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Kernel images for PV domains: bzImage (gzip, xz or zstd payload) or plain
 * ELF64, and the Xen ELF notes that say how to load and start them.  Pure
 * code over bytes in memory: unit-tested and fuzzed without Xen. */
#ifndef EDERA_BUILD_IMAGE_H
#define EDERA_BUILD_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the loader needs from a kernel, all virtual addresses in the
 * guest's address space. */
struct ed_kernel {
	/* the decompressed ELF image (owned); of a kernel read from a file
	 * (from_fd), an anonymous mapping of ELF_LEN bytes holding only its
	 * headers and notes: its segments are read from FD when loaded */
	uint8_t *elf;
	size_t elf_len;
	bool from_fd;
	int fd;                /* (from_fd) the ELF file, owned */
	uint64_t virt_base;    /* XEN_ELFNOTE_VIRT_BASE */
	uint64_t entry;        /* XEN_ELFNOTE_ENTRY */
	uint64_t hypercall_page; /* XEN_ELFNOTE_HYPERCALL_PAGE, 0 if none */
	uint64_t paddr_offset; /* XEN_ELFNOTE_PADDR_OFFSET */
	uint64_t init_p2m;     /* XEN_ELFNOTE_INIT_P2M, 0 if none */
	uint64_t virt_kstart;  /* lowest loaded address */
	uint64_t virt_kend;    /* end of the highest loaded segment (incl. bss) */
	bool mod_start_pfn;    /* XEN_ELFNOTE_MOD_START_PFN: initrd given as a pfn */
	char guest_os[32];     /* XEN_ELFNOTE_GUEST_OS, e.g. "linux" */
	char features[256];    /* XEN_ELFNOTE_FEATURES, '|'-separated */
	const char *compression; /* "none", "gzip", "xz", "zstd" */
};

/* Largest decompressed kernel accepted: bounds memory for hostile images. */
#define ED_KERNEL_MAX (512u << 20)

/*
 * Parse an image of LEN bytes (a bzImage or an ELF64).  WHAT names it in
 * error messages ("kernel image 'vmlinuz'").  On success K owns a copy of
 * the ELF; release it with ed_kernel_free.  Errors (with the thread's
 * message): EDERA_EINVAL for anything wrong with the image, EDERA_ENOMEM.
 */
int ed_kernel_parse(struct ed_kernel *k, const uint8_t *data, size_t len, const char *what);
void ed_kernel_free(struct ed_kernel *k);

/* As ed_kernel_parse for a plain ELF image in ELF (from malloc), which K
 * takes over (it is freed on failure too): no copy. */
int ed_kernel_adopt_elf(struct ed_kernel *k, uint8_t *elf, size_t len, const char *what);
/* As ed_kernel_parse for the plain ELF kernel file FD of LEN bytes (at most
 * ED_KERNEL_MAX), which K takes over (closed on failure too): only its
 * headers and notes are read now; ed_kernel_load reads the segments from
 * the file into the guest's memory, without a copy in the process's. */
int ed_kernel_open_elf(struct ed_kernel *k, int fd, size_t len, const char *what);

/* Copy the loadable segments into DST, which maps the guest's memory from
 * K->virt_kstart for (virt_kend - virt_kstart) bytes; bss is zeroed.
 * Errors (a kernel read from a file only): EDERA_EIO when the file can no
 * longer give a segment (cut short since it was opened). */
int ed_kernel_load(const struct ed_kernel *k, uint8_t *dst);

/* Read a whole file (kernel or initrd) of at most MAX bytes. */
int ed_read_file(const char *path, const char *what, size_t max, uint8_t **data, size_t *len);
/* As ed_read_file, from the open file FD (PATH names it in messages). */
int ed_read_fd(int fd, const char *path, const char *what, size_t max, uint8_t **data,
               size_t *len);

#endif
