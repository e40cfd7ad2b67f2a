/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xen/elfnote.h>
#include <zlib.h>
#include <zstd.h>

#include "image.h"
#include "internal.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- decompression --------------------------------------------------------- */

static int grow(uint8_t **buf, size_t *cap, const char *what)
{
	size_t ncap = *cap ? *cap * 2 : (16u << 20);
	uint8_t *nb;

	if (*cap >= ED_KERNEL_MAX)
		return ed_error(EDERA_EINVAL, "%s: decompresses to more than %u MiB", what,
		                ED_KERNEL_MAX >> 20);
	if (ncap > ED_KERNEL_MAX)
		ncap = ED_KERNEL_MAX;
	nb = realloc(*buf, ncap);
	if (!nb)
		return ed_error(EDERA_ENOMEM, "%s: out of memory decompressing", what);
	*buf = nb;
	*cap = ncap;
	return 0;
}

static int unxz(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len, const char *what)
{
	lzma_stream s = LZMA_STREAM_INIT;
	uint8_t *buf = NULL;
	size_t cap = 0;
	lzma_ret r;
	int rc;

	if (lzma_stream_decoder(&s, UINT64_MAX, 0) != LZMA_OK)
		return ed_error(EDERA_ENOMEM, "%s: cannot start the xz decoder", what);
	s.next_in = in;
	s.avail_in = len;
	do {
		if (s.avail_out == 0) {
			rc = grow(&buf, &cap, what);
			if (rc < 0)
				goto fail;
			s.next_out = buf + s.total_out;
			s.avail_out = cap - s.total_out;
		}
		r = lzma_code(&s, LZMA_FINISH);
	} while (r == LZMA_OK);
	/* A kernel's payload may carry padding after the stream end. */
	if (r != LZMA_STREAM_END) {
		rc = ed_error(EDERA_EINVAL, "%s: corrupt xz payload (liblzma error %d)", what, (int)r);
		goto fail;
	}
	*out = buf;
	*out_len = s.total_out;
	lzma_end(&s);
	return 0;
fail:
	lzma_end(&s);
	free(buf);
	return rc;
}

static int ungzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len, const char *what)
{
	z_stream s;
	uint8_t *buf = NULL;
	size_t cap = 0;
	int r, rc;

	memset(&s, 0, sizeof(s));
	if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK)
		return ed_error(EDERA_ENOMEM, "%s: cannot start the gzip decoder", what);
	s.next_in = (Bytef *)in;
	s.avail_in = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
	do {
		if (s.avail_out == 0) {
			rc = grow(&buf, &cap, what);
			if (rc < 0)
				goto fail;
			s.next_out = buf + s.total_out;
			s.avail_out = (uInt)(cap - s.total_out);
		}
		r = inflate(&s, Z_NO_FLUSH);
	} while (r == Z_OK);
	if (r != Z_STREAM_END) {
		rc = ed_error(EDERA_EINVAL, "%s: corrupt gzip payload (zlib error %d)", what, r);
		goto fail;
	}
	*out = buf;
	*out_len = s.total_out;
	inflateEnd(&s);
	return 0;
fail:
	inflateEnd(&s);
	free(buf);
	return rc;
}

static int unzstd(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len, const char *what)
{
	ZSTD_DStream *d = ZSTD_createDStream();
	ZSTD_inBuffer ib = { in, len, 0 };
	ZSTD_outBuffer ob = { NULL, 0, 0 };
	uint8_t *buf = NULL;
	size_t cap = 0, r = 1;
	int rc;

	if (!d)
		return ed_error(EDERA_ENOMEM, "%s: cannot start the zstd decoder", what);
	ZSTD_initDStream(d);
	while (r != 0) {
		if (ob.pos == ob.size) {
			rc = grow(&buf, &cap, what);
			if (rc < 0)
				goto fail;
			ob.dst = buf;
			ob.size = cap;
		}
		r = ZSTD_decompressStream(d, &ob, &ib);
		if (ZSTD_isError(r)) {
			rc = ed_error(EDERA_EINVAL, "%s: corrupt zstd payload (%s)", what,
			              ZSTD_getErrorName(r));
			goto fail;
		}
		if (r != 0 && ib.pos == ib.size && ob.pos < ob.size) {
			rc = ed_error(EDERA_EINVAL, "%s: truncated zstd payload", what);
			goto fail;
		}
	}
	ZSTD_freeDStream(d);
	*out = buf;
	*out_len = ob.pos;
	return 0;
fail:
	ZSTD_freeDStream(d);
	free(buf);
	return rc;
}

static int decompress(const uint8_t *p, size_t len, struct ed_kernel *k, const char *what)
{
	if (len >= 6 && memcmp(p, "\xfd" "7zXZ\0", 6) == 0) {
		k->compression = "xz";
		return unxz(p, len, &k->elf, &k->elf_len, what);
	}
	if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
		k->compression = "gzip";
		return ungzip(p, len, &k->elf, &k->elf_len, what);
	}
	if (len >= 4 && get32(p) == 0xfd2fb528) {
		k->compression = "zstd";
		return unzstd(p, len, &k->elf, &k->elf_len, what);
	}
	if (len >= 3 && memcmp(p, "BZh", 3) == 0)
		return ed_error(EDERA_EINVAL, "%s: bzip2-compressed kernels are not supported "
		                "(use gzip, xz or zstd)", what);
	if (len >= 4 && get32(p) == 0x184c2102)
		return ed_error(EDERA_EINVAL, "%s: lz4-compressed kernels are not supported "
		                "(use gzip, xz or zstd)", what);
	return ed_error(EDERA_EINVAL, "%s: bzImage payload in an unknown compression format", what);
}

/* ---- bzImage ------------------------------------------------------------- */

/* The Linux boot protocol header: "HdrS" at 0x202, version at 0x206,
 * setup_sects at 0x1f1, payload offset and length at 0x248/0x24c
 * (version 2.08+), relative to the protected-mode code after the setup
 * sectors. */
static int unwrap_bzimage(const uint8_t *data, size_t len, struct ed_kernel *k, const char *what)
{
	unsigned int setup_sects, version;
	uint64_t start, off, plen;

	version = get16(data + 0x206);
	if (version < 0x208)
		return ed_error(EDERA_EINVAL, "%s: bzImage boot protocol %u.%02u is too old "
		                "(2.08+ carries the payload location)",
		                what, version >> 8, version & 0xff);
	setup_sects = data[0x1f1] ? data[0x1f1] : 4;
	start = (uint64_t)(setup_sects + 1) * 512;
	off = get32(data + 0x248);
	plen = get32(data + 0x24c);
	if (start + off + plen > len || plen == 0)
		return ed_error(EDERA_EINVAL, "%s: truncated bzImage (payload at %llu+%llu, file %zu bytes)",
		                what, (unsigned long long)(start + off), (unsigned long long)plen, len);
	return decompress(data + start + off, plen, k, what);
}

/* ---- ELF and Xen notes ----------------------------------------------------- */

static void note_string(char *dst, size_t size, const uint8_t *desc, size_t dlen)
{
	size_t n = dlen < size - 1 ? dlen : size - 1;

	memcpy(dst, desc, n);
	dst[n] = '\0';
	dst[strnlen(dst, n)] = '\0';
}

static uint64_t note_num(const uint8_t *desc, size_t dlen)
{
	return dlen >= 8 ? get64(desc) : dlen >= 4 ? get32(desc) : 0;
}

struct seen_notes {
	bool entry, virt_base, hypercall, paddr_offset;
};

static int parse_notes(struct ed_kernel *k, const uint8_t *p, size_t len, struct seen_notes *s,
                       const char *what)
{
	size_t off = 0;

	while (off + 12 <= len) {
		uint32_t namesz = get32(p + off), descsz = get32(p + off + 4),
		         type = get32(p + off + 8);
		size_t name_off = off + 12, desc_off, next;
		const uint8_t *desc;

		if (namesz > len || descsz > len)
			return ed_error(EDERA_EINVAL, "%s: corrupt ELF note", what);
		desc_off = name_off + ((namesz + 3u) & ~(size_t)3);
		next = desc_off + ((descsz + 3u) & ~(size_t)3);
		if (desc_off > len || next > len || desc_off + descsz > len)
			return ed_error(EDERA_EINVAL, "%s: corrupt ELF note", what);
		desc = p + desc_off;
		if (namesz == 4 && memcmp(p + name_off, "Xen", 4) == 0) {
			switch (type) {
			case XEN_ELFNOTE_ENTRY:
				k->entry = note_num(desc, descsz);
				s->entry = true;
				break;
			case XEN_ELFNOTE_HYPERCALL_PAGE:
				k->hypercall_page = note_num(desc, descsz);
				s->hypercall = true;
				break;
			case XEN_ELFNOTE_VIRT_BASE:
				k->virt_base = note_num(desc, descsz);
				s->virt_base = true;
				break;
			case XEN_ELFNOTE_PADDR_OFFSET:
				k->paddr_offset = note_num(desc, descsz);
				s->paddr_offset = true;
				break;
			case XEN_ELFNOTE_INIT_P2M:
				k->init_p2m = note_num(desc, descsz);
				break;
			case XEN_ELFNOTE_MOD_START_PFN:
				k->mod_start_pfn = note_num(desc, descsz) != 0;
				break;
			case XEN_ELFNOTE_GUEST_OS:
				note_string(k->guest_os, sizeof(k->guest_os), desc, descsz);
				break;
			case XEN_ELFNOTE_FEATURES:
				note_string(k->features, sizeof(k->features), desc, descsz);
				break;
			default:
				break;
			}
		}
		off = next;
	}
	return 0;
}

/* Bytes of notes in a kernel, all its note segments together: Linux's are
 * a few hundred bytes. */
#define NOTES_MAX (1u << 20)

static int parse_elf(struct ed_kernel *k, const char *what)
{
	const uint8_t *e = k->elf;
	size_t len = k->elf_len;
	uint64_t phoff, lo = UINT64_MAX, hi = 0, notes = 0;
	unsigned int phnum, phentsize;
	struct seen_notes s = { 0 };
	int rc;

	if (len < sizeof(Elf64_Ehdr) || memcmp(e, ELFMAG, SELFMAG) != 0)
		return ed_error(EDERA_EINVAL, "%s: not an ELF image or bzImage", what);
	if (e[EI_CLASS] != ELFCLASS64 || e[EI_DATA] != ELFDATA2LSB || get16(e + 18) != EM_X86_64)
		return ed_error(EDERA_EINVAL, "%s: not an x86-64 kernel (ELF class %u, machine %u)",
		                what, e[EI_CLASS], get16(e + 18));
	phoff = get64(e + 32);
	phentsize = get16(e + 54);
	phnum = get16(e + 56);
	if (phentsize < sizeof(Elf64_Phdr) || phnum == 0 || phoff > len ||
	    (uint64_t)phnum * phentsize > len - phoff)
		return ed_error(EDERA_EINVAL, "%s: corrupt ELF program headers", what);

	for (unsigned int i = 0; i < phnum; i++) {
		const uint8_t *ph = e + phoff + (uint64_t)i * phentsize;
		uint32_t type = get32(ph);
		uint64_t off = get64(ph + 8), vaddr = get64(ph + 16), paddr = get64(ph + 24),
		         filesz = get64(ph + 32), memsz = get64(ph + 40);

		(void)vaddr;
		if (off > len || filesz > len - off)
			return ed_error(EDERA_EINVAL, "%s: truncated (segment %u beyond the file)", what, i);
		if (type == PT_NOTE) {
			notes += filesz;
			if (notes > NOTES_MAX)
				return ed_error(EDERA_EINVAL, "%s: more than %u bytes of notes", what,
				                NOTES_MAX);
			rc = parse_notes(k, e + off, filesz, &s, what);
			if (rc < 0)
				return rc;
		} else if (type == PT_LOAD && memsz) {
			if (filesz > memsz || paddr > UINT64_MAX - memsz)
				return ed_error(EDERA_EINVAL, "%s: corrupt loadable segment %u", what, i);
			if (paddr < lo)
				lo = paddr;
			if (paddr + memsz > hi)
				hi = paddr + memsz;
		}
	}
	if (!s.entry)
		return ed_error(EDERA_EINVAL, "%s: not an x86-64 PV kernel (no XEN_ELFNOTE_ENTRY)", what);
	if (!s.virt_base)
		return ed_error(EDERA_EINVAL, "%s: not an x86-64 PV kernel (no XEN_ELFNOTE_VIRT_BASE)",
		                what);
	if (lo == UINT64_MAX)
		return ed_error(EDERA_EINVAL, "%s: no loadable segments", what);
	/* Segment physical addresses are offsets from PADDR_OFFSET (the default
	 * is VIRT_BASE, as for Linux). */
	if (!s.paddr_offset)
		k->paddr_offset = k->virt_base;
	if (k->virt_base > UINT64_MAX - hi)
		return ed_error(EDERA_EINVAL, "%s: segments beyond the address space", what);
	k->virt_kstart = lo + k->virt_base - k->paddr_offset;
	k->virt_kend = hi + k->virt_base - k->paddr_offset;
	if (k->virt_kstart < k->virt_base || (k->virt_kstart & 0xfff))
		return ed_error(EDERA_EINVAL, "%s: kernel starts at %#llx, below VIRT_BASE %#llx or "
		                "not page-aligned", what, (unsigned long long)k->virt_kstart,
		                (unsigned long long)k->virt_base);
	if (k->virt_kend - k->virt_kstart > ED_KERNEL_MAX)
		return ed_error(EDERA_EINVAL, "%s: loads %llu MiB, more than %u MiB", what,
		                (unsigned long long)((k->virt_kend - k->virt_kstart) >> 20),
		                ED_KERNEL_MAX >> 20);
	if (k->entry < k->virt_kstart || k->entry >= k->virt_kend)
		return ed_error(EDERA_EINVAL, "%s: entry point %#llx outside the loaded image", what,
		                (unsigned long long)k->entry);
	if (s.hypercall && (k->hypercall_page < k->virt_kstart || k->hypercall_page >= k->virt_kend ||
	                    (k->hypercall_page & 0xfff)))
		return ed_error(EDERA_EINVAL, "%s: hypercall page %#llx outside the image", what,
		                (unsigned long long)k->hypercall_page);
	return 0;
}

int ed_kernel_parse(struct ed_kernel *k, const uint8_t *data, size_t len, const char *what)
{
	int rc;

	memset(k, 0, sizeof(*k));
	k->fd = -1;
	if (len >= 0x250 && memcmp(data + 0x202, "HdrS", 4) == 0) {
		rc = unwrap_bzimage(data, len, k, what);
	} else if (len >= 4 && memcmp(data, ELFMAG, SELFMAG) == 0) {
		k->compression = "none";
		k->elf = malloc(len ? len : 1);
		if (!k->elf)
			return ed_error(EDERA_ENOMEM, "%s: out of memory", what);
		memcpy(k->elf, data, len);
		k->elf_len = len;
		rc = 0;
	} else if (len < 64) {
		return ed_error(EDERA_EINVAL, "%s: only %zu bytes: truncated or not a kernel", what, len);
	} else {
		return ed_error(EDERA_EINVAL, "%s: neither a bzImage nor an ELF kernel", what);
	}
	if (rc == 0)
		rc = parse_elf(k, what);
	if (rc < 0)
		ed_kernel_free(k);
	return rc;
}

int ed_kernel_adopt_elf(struct ed_kernel *k, uint8_t *elf, size_t len, const char *what)
{
	int rc;

	memset(k, 0, sizeof(*k));
	k->compression = "none";
	k->fd = -1;
	k->elf = elf;
	k->elf_len = len;
	if (len < 4 || memcmp(elf, ELFMAG, SELFMAG) != 0)
		rc = ed_error(EDERA_EINVAL, "%s: not an ELF kernel", what);
	else
		rc = parse_elf(k, what);
	if (rc < 0)
		ed_kernel_free(k);
	return rc;
}

/* Read LEN bytes at OFF of FD into P, whole; false when the file is
 * shorter or unreadable. */
static bool read_at(int fd, uint8_t *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = 0; /* (the end of the file) */
			return false;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return true;
}

/* A read of a kernel file that failed: cut short (EDERA_EINVAL) or the
 * file system's error (EDERA_EIO). */
static int read_failed(const char *what)
{
	if (errno == 0)
		return ed_error(EDERA_EINVAL, "%s: truncated", what);
	return ed_error(EDERA_EIO, "%s: read failed: %s", what, strerror(errno));
}

int ed_kernel_open_elf(struct ed_kernel *k, int fd, size_t len, const char *what)
{
	uint8_t *e;
	uint64_t phoff;
	unsigned int phnum, phentsize;
	size_t head = len < 4096 ? len : 4096;
	int rc;

	memset(k, 0, sizeof(*k));
	k->compression = "none";
	k->fd = -1;
	if (len < sizeof(Elf64_Ehdr) || len > ED_KERNEL_MAX) {
		close(fd);
		return ed_error(EDERA_EINVAL, "%s: not an ELF kernel", what);
	}
	/* As long as the file and never touched but where headers and notes
	 * are read: the other pages are never allocated. */
	e = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (e == MAP_FAILED) {
		close(fd);
		return ed_error(EDERA_ENOMEM, "%s: out of memory", what);
	}
	k->elf = e;
	k->elf_len = len;
	k->from_fd = true;
	k->fd = fd;
	rc = read_at(fd, e, head, 0) ? 0 : read_failed(what);
	if (rc == 0 && memcmp(e, ELFMAG, SELFMAG) != 0)
		rc = ed_error(EDERA_EINVAL, "%s: not an ELF kernel", what);
	if (rc == 0) {
		phoff = get64(e + 32);
		phentsize = get16(e + 54);
		phnum = get16(e + 56);
		/* (bounds as parse_elf checks them, which follows) */
		if (phentsize < sizeof(Elf64_Phdr) || phnum == 0 || phoff > len ||
		    (uint64_t)phnum * phentsize > len - phoff)
			rc = ed_error(EDERA_EINVAL, "%s: corrupt ELF program headers", what);
		else if (!read_at(fd, e + phoff, (size_t)phnum * phentsize, phoff))
			rc = read_failed(what);
	}
	for (unsigned int i = 0, notes = 0; rc == 0 && i < phnum; i++) {
		const uint8_t *ph = e + phoff + (uint64_t)i * phentsize;
		uint64_t off = get64(ph + 8), filesz = get64(ph + 32);

		if (get32(ph) != PT_NOTE || off > len || filesz > len - off)
			continue; /* (parse_elf says what is wrong) */
		if (filesz > NOTES_MAX - notes)
			rc = ed_error(EDERA_EINVAL, "%s: more than %u bytes of notes", what, NOTES_MAX);
		else if (!read_at(fd, e + off, (size_t)filesz, off))
			rc = read_failed(what);
		else
			notes += (unsigned int)filesz;
	}
	if (rc == 0)
		rc = parse_elf(k, what);
	if (rc < 0)
		ed_kernel_free(k);
	return rc;
}

void ed_kernel_free(struct ed_kernel *k)
{
	if (k->from_fd) {
		munmap(k->elf, k->elf_len);
		close(k->fd);
	} else {
		free(k->elf);
	}
	k->elf = NULL;
	k->elf_len = 0;
	k->from_fd = false;
	k->fd = -1;
}

/* A segment of a kernel file read into DST: straight into it, or through a
 * buffer where the file system cannot read into such memory (DST maps
 * another domain's pages, which a file system reading by pinning the
 * destination's pages, such as 9p, refuses with EFAULT). */
static bool load_from_fd(int fd, uint8_t *dst, size_t len, uint64_t off)
{
	uint8_t *bounce;
	bool ok = true;

	if (read_at(fd, dst, len, off))
		return true;
	if (errno != EFAULT || !(bounce = malloc(1u << 20)))
		return false;
	ed_trace("build: the kernel's file system refuses the zone's memory: read through a buffer");
	while (ok && len) {
		size_t n = len < (1u << 20) ? len : (1u << 20);

		ok = read_at(fd, bounce, n, off);
		if (ok)
			memcpy(dst, bounce, n);
		dst += n;
		off += n;
		len -= n;
	}
	free(bounce);
	return ok;
}

int ed_kernel_load(const struct ed_kernel *k, uint8_t *dst)
{
	const uint8_t *e = k->elf;
	uint64_t phoff = get64(e + 32);
	unsigned int phnum = get16(e + 56), phentsize = get16(e + 54);

	memset(dst, 0, k->virt_kend - k->virt_kstart);
	for (unsigned int i = 0; i < phnum; i++) {
		const uint8_t *ph = e + phoff + (uint64_t)i * phentsize;
		uint64_t off = get64(ph + 8), paddr = get64(ph + 24), filesz = get64(ph + 32);
		uint64_t virt = paddr + k->virt_base - k->paddr_offset;

		if (get32(ph) != PT_LOAD || !get64(ph + 40))
			continue;
		if (!k->from_fd)
			memcpy(dst + (virt - k->virt_kstart), e + off, filesz);
		else if (!load_from_fd(k->fd, dst + (virt - k->virt_kstart), (size_t)filesz, off))
			return ed_error(EDERA_EIO, "the kernel's cached image changed while in use "
			                           "(segment %u cannot be read: %s)",
			                i, errno ? strerror(errno) : "cut short");
	}
	return 0;
}

int ed_read_file(const char *path, const char *what, size_t max, uint8_t **data, size_t *len)
{
	int fd, rc;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ed_error(errno == ENOENT ? EDERA_ENOENT : ed_errno_code(errno),
		                "%s '%s': %s", what, path, strerror(errno));
	rc = ed_read_fd(fd, path, what, max, data, len);
	close(fd);
	return rc;
}

int ed_read_fd(int fd, const char *path, const char *what, size_t max, uint8_t **data,
               size_t *len)
{
	struct stat st;
	uint8_t *buf;

	*data = NULL;
	*len = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return ed_error(EDERA_EINVAL, "%s '%s': not a regular file", what, path);
	if ((uint64_t)st.st_size > max)
		return ed_error(EDERA_EINVAL, "%s '%s': %lld bytes, more than the %zu allowed", what,
		                path, (long long)st.st_size, max);
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf)
		return ed_error(EDERA_ENOMEM, "%s '%s': out of memory", what, path);
	if (!read_at(fd, buf, (size_t)st.st_size, 0)) {
		int e = errno ? errno : EIO; /* (0: cut short) */

		free(buf);
		return ed_error(ed_errno_code(e), "%s '%s': read failed: %s", what, path,
		                strerror(e));
	}
	*data = buf;
	*len = (size_t)st.st_size;
	return 0;
}
