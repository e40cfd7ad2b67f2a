/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Kernel image parsing: synthetic ELF64 kernels with Xen notes, plain and
 * wrapped in bzImages with gzip, xz and zstd payloads, and broken ones. */
#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <xen/elfnote.h>
#include <zlib.h>
#include <zstd.h>

#include <stdio.h>
#include <unistd.h>

#include "builder/image.h"
#include "builder/kcache.h"
#include "internal.h"
#include "suites.h"

#define VBASE 0xffffffff80000000ull

struct img {
	uint8_t buf[16384];
	size_t len;
};

static size_t put_note(uint8_t *p, uint32_t type, const void *desc, uint32_t dlen)
{
	uint32_t h[3] = { 4, dlen, type };

	memcpy(p, h, 12);
	memcpy(p + 12, "Xen", 4);
	memcpy(p + 16, desc, dlen);
	return 16 + ((dlen + 3u) & ~3u);
}

/* An ELF with one PT_LOAD (paddr 0x1000000, 8 KiB file, 12 KiB memory) and a
 * PT_NOTE carrying the notes selected by MASK (bit = note type). */
static void make_elf(struct img *im, unsigned int mask, uint16_t machine)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)im->buf;
	Elf64_Phdr *ph = (Elf64_Phdr *)(im->buf + sizeof(*eh));
	uint8_t *notes = im->buf + 512;
	size_t nlen = 0;
	uint64_t v;

	memset(im, 0, sizeof(*im));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_machine = machine;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 2;
	if (mask & (1u << XEN_ELFNOTE_ENTRY)) {
		v = VBASE + 0x1000000 + 0x100;
		nlen += put_note(notes + nlen, XEN_ELFNOTE_ENTRY, &v, 8);
	}
	if (mask & (1u << XEN_ELFNOTE_VIRT_BASE)) {
		v = VBASE;
		nlen += put_note(notes + nlen, XEN_ELFNOTE_VIRT_BASE, &v, 8);
	}
	if (mask & (1u << XEN_ELFNOTE_PADDR_OFFSET)) {
		v = 0;
		nlen += put_note(notes + nlen, XEN_ELFNOTE_PADDR_OFFSET, &v, 8);
	}
	if (mask & (1u << XEN_ELFNOTE_HYPERCALL_PAGE)) {
		v = VBASE + 0x1000000 + 0x1000;
		nlen += put_note(notes + nlen, XEN_ELFNOTE_HYPERCALL_PAGE, &v, 8);
	}
	nlen += put_note(notes + nlen, XEN_ELFNOTE_GUEST_OS, "linux", 6);
	ph[0].p_type = PT_NOTE;
	ph[0].p_offset = 512;
	ph[0].p_filesz = nlen;
	ph[1].p_type = PT_LOAD;
	ph[1].p_offset = 4096;
	ph[1].p_vaddr = VBASE + 0x1000000;
	ph[1].p_paddr = 0x1000000;
	ph[1].p_filesz = 8192;
	ph[1].p_memsz = 12288;
	memset(im->buf + 4096, 0xcc, 8192);
	im->len = 4096 + 8192;
}

#define ALL_NOTES ((1u << XEN_ELFNOTE_ENTRY) | (1u << XEN_ELFNOTE_VIRT_BASE) | \
                   (1u << XEN_ELFNOTE_PADDR_OFFSET) | (1u << XEN_ELFNOTE_HYPERCALL_PAGE))

static void check_parsed(const struct ed_kernel *k)
{
	ck_assert_uint_eq(k->virt_base, VBASE);
	ck_assert_uint_eq(k->virt_kstart, VBASE + 0x1000000);
	ck_assert_uint_eq(k->virt_kend, VBASE + 0x1000000 + 12288);
	ck_assert_uint_eq(k->entry, VBASE + 0x1000100);
	ck_assert_uint_eq(k->hypercall_page, VBASE + 0x1001000);
	ck_assert_str_eq(k->guest_os, "linux");
}

START_TEST(plain_elf)
{
	struct img *im = malloc(sizeof(*im));
	struct ed_kernel k;
	uint8_t *mem = malloc(12288);

	make_elf(im, ALL_NOTES, EM_X86_64);
	ck_assert_int_eq(ed_kernel_parse(&k, im->buf, im->len, "kernel image 't'"), 0);
	check_parsed(&k);
	ck_assert_str_eq(k.compression, "none");
	memset(mem, 0x55, 12288);
	ck_assert_int_eq(ed_kernel_load(&k, mem), 0);
	ck_assert_uint_eq(mem[0], 0xcc);
	ck_assert_uint_eq(mem[8191], 0xcc);
	ck_assert_uint_eq(mem[8192], 0); /* bss zeroed */
	ck_assert_uint_eq(mem[12287], 0);
	ed_kernel_free(&k);
	free(mem);
	free(im);
}
END_TEST

START_TEST(missing_notes_and_wrong_machine)
{
	struct img *im = malloc(sizeof(*im));
	struct ed_kernel k;

	make_elf(im, ALL_NOTES & ~(1u << XEN_ELFNOTE_ENTRY), EM_X86_64);
	ck_assert_int_eq(ed_kernel_parse(&k, im->buf, im->len, "kernel image 'x'"), EDERA_EINVAL);
	ck_assert_str_eq(edera_last_error(),
	                 "kernel image 'x': not an x86-64 PV kernel (no XEN_ELFNOTE_ENTRY)");
	ck_assert_ptr_null(k.elf);
	make_elf(im, ALL_NOTES & ~(1u << XEN_ELFNOTE_VIRT_BASE), EM_X86_64);
	ck_assert_int_eq(ed_kernel_parse(&k, im->buf, im->len, "k"), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "VIRT_BASE") != NULL, "%s", edera_last_error());
	make_elf(im, ALL_NOTES, EM_AARCH64);
	ck_assert_int_eq(ed_kernel_parse(&k, im->buf, im->len, "k"), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "not an x86-64 kernel") != NULL, "%s",
	              edera_last_error());
	/* truncated: the segment runs past the end */
	make_elf(im, ALL_NOTES, EM_X86_64);
	ck_assert_int_eq(ed_kernel_parse(&k, im->buf, im->len - 100, "k"), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "truncated") != NULL, "%s", edera_last_error());
	/* garbage and tiny files */
	ck_assert_int_eq(ed_kernel_parse(&k, (const uint8_t *)"hello", 5, "k"), EDERA_EINVAL);
	memset(im->buf, 0x41, 4096);
	ck_assert_int_eq(ed_kernel_parse(&k, im->buf, 4096, "k"), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "neither a bzImage nor an ELF") != NULL, "%s",
	              edera_last_error());
	free(im);
}
END_TEST

/* ---- bzImages ------------------------------------------------------------- */

static size_t compress_gzip(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	z_stream s;

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(deflateInit2(&s, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	s.next_in = (Bytef *)in;
	s.avail_in = (uInt)len;
	s.next_out = out;
	s.avail_out = (uInt)cap;
	ck_assert_int_eq(deflate(&s, Z_FINISH), Z_STREAM_END);
	deflateEnd(&s);
	return s.total_out;
}

static size_t compress_xz(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	size_t pos = 0;

	ck_assert_int_eq(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in, len, out, &pos, cap),
	                 LZMA_OK);
	return pos;
}

static size_t compress_zstd(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	size_t n = ZSTD_compress(out, cap, in, len, 3);

	ck_assert(!ZSTD_isError(n));
	return n;
}

/* A bzImage: 4 setup sectors + boot sector, then the payload at offset 0x40
 * of the protected-mode part. */
static size_t make_bzimage(uint8_t *out, size_t cap, const uint8_t *payload, size_t plen)
{
	size_t start = 5 * 512, off = 0x40;
	uint32_t o = (uint32_t)off, l = (uint32_t)plen;
	uint16_t ver = 0x20f;

	ck_assert_uint_le(start + off + plen, cap);
	memset(out, 0, start + off);
	out[0x1f1] = 4;
	memcpy(out + 0x202, "HdrS", 4);
	memcpy(out + 0x206, &ver, 2);
	memcpy(out + 0x248, &o, 4);
	memcpy(out + 0x24c, &l, 4);
	memcpy(out + start + off, payload, plen);
	return start + off + plen;
}

START_TEST(bzimage_payloads)
{
	size_t (*packers[3])(const uint8_t *, size_t, uint8_t *, size_t) = {
		compress_gzip, compress_xz, compress_zstd
	};
	static const char *names[3] = { "gzip", "xz", "zstd" };
	struct img *im = malloc(sizeof(*im));
	uint8_t *packed = malloc(65536), *bz = malloc(65536);

	make_elf(im, ALL_NOTES, EM_X86_64);
	for (int i = 0; i < 3; i++) {
		struct ed_kernel k;
		size_t plen = packers[i](im->buf, im->len, packed, 65536);
		size_t blen = make_bzimage(bz, 65536, packed, plen);

		ck_assert_int_eq(ed_kernel_parse(&k, bz, blen, "bz"), 0);
		ck_assert_str_eq(k.compression, names[i]);
		ck_assert_uint_eq(k.elf_len, im->len);
		check_parsed(&k);
		ed_kernel_free(&k);

		/* corrupt the middle of the payload: an error naming the format */
		bz[5 * 512 + 0x40 + plen / 2] ^= 0xff;
		bz[5 * 512 + 0x40 + plen / 2 + 1] ^= 0xff;
		ck_assert_int_eq(ed_kernel_parse(&k, bz, blen, "bz"), EDERA_EINVAL);
		/* truncated: payload length beyond the file */
		ck_assert_int_eq(ed_kernel_parse(&k, bz, blen - 10, "bz"), EDERA_EINVAL);
		ck_assert_msg(strstr(edera_last_error(), "truncated") != NULL, "%s",
		              edera_last_error());
	}
	free(im);
	free(packed);
	free(bz);
}
END_TEST

START_TEST(read_file_errors)
{
	uint8_t *d;
	size_t n;

	ck_assert_int_eq(ed_read_file("/nonexistent/vmlinuz", "kernel image", 1 << 20, &d, &n),
	                 EDERA_ENOENT);
	ck_assert_str_eq(edera_last_error(),
	                 "kernel image '/nonexistent/vmlinuz': No such file or directory");
	ck_assert_int_eq(ed_read_file("/", "kernel image", 1 << 20, &d, &n), EDERA_EINVAL);
	ck_assert_int_eq(ed_read_file("/proc/self/exe", "kernel image", 10, &d, &n), EDERA_EINVAL);
	ck_assert_int_eq(ed_read_file("/proc/self/exe", "kernel image", 64 << 20, &d, &n), 0);
	ck_assert_uint_gt(n, 0);
	free(d);
}
END_TEST

START_TEST(kernel_cache_shares_and_notices_changes)
{
	struct img *im = malloc(sizeof(*im));
	char path[] = "/tmp/edera-kcache-XXXXXX";
	struct ed_kcache c;
	struct ed_kimage *a, *b, *d;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	make_elf(im, ALL_NOTES, EM_X86_64);
	ck_assert_int_eq(write(fd, im->buf, im->len), (ssize_t)im->len);
	close(fd);
	ed_kcache_init(&c);
	ck_assert_int_eq(ed_kcache_get(&c, path, &a), 0);
	ck_assert_int_eq(ed_kcache_get(&c, path, &b), 0);
	ck_assert_ptr_eq(a, b); /* parsed once */
	ck_assert_uint_eq(c.hits, 1);
	ck_assert_uint_eq(c.misses, 1);
	check_parsed(&a->k);
	/* the file changes: parsed again; the old image lives while held */
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	close(fd);
	ck_assert_int_eq(ed_kcache_get(&c, path, &d), 0);
	ck_assert_ptr_ne(d, a);
	ck_assert_uint_eq(c.misses, 2);
	check_parsed(&a->k);
	ed_kcache_put(&c, a);
	ed_kcache_put(&c, b);
	ed_kcache_put(&c, d);
	ck_assert_int_eq(ed_kcache_get(&c, "/nonexistent/k", &a), EDERA_ENOENT);
	ed_kcache_fini(&c);
	unlink(path);
	free(im);
}
END_TEST

static void put_file(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* The one entry in DIR (its name in NAME); fails unless there is exactly one. */
static void only_entry(const char *dir, char *name, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "kernel-", 7) == 0) {
			snprintf(name, cap, "%s/%s", dir, de->d_name);
			n++;
		}
	closedir(d);
	ck_assert_int_eq(n, 1);
}

/* The index records in DIR (file identity -> entry); removed if CLEAR. */
static int index_records(const char *dir, bool clear)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[512];
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "id-", 3) == 0) {
			n++;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (clear)
				ck_assert_int_eq(unlink(path), 0);
		}
	closedir(d);
	return n;
}

/* Past the cache's settling time for a file just written (it indexes only
 * files last changed more than a second ago). */
static void settle(void)
{
	usleep(1100 * 1000);
}

/* A fresh cache on DIR (another process, as far as the disk is concerned)
 * gets PATH; returns the image's compression ("cached" from the disk). */
static const char *fresh_get(const char *dir, uint64_t max, const char *path, struct ed_kcache *c)
{
	struct ed_kimage *x;
	const char *how;

	ed_kcache_init(c);
	ck_assert_int_eq(ed_kcache_set_dir(c, dir, max), 0);
	ck_assert_int_eq(ed_kcache_get(c, path, &x), 0);
	check_parsed(&x->k);
	how = x->k.compression;
	ed_kcache_put(c, x);
	ed_kcache_fini(c);
	return how;
}

START_TEST(kernel_cache_on_disk)
{
	struct img *im = malloc(sizeof(*im));
	uint8_t *packed = malloc(65536), *bz = malloc(65536);
	char top[] = "/tmp/edera-kdisk-XXXXXX", dir[64], path[64], path2[64], entry[320],
	     entry2[320];
	struct ed_kcache c;
	struct stat st;
	size_t blen;
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(top));
	snprintf(dir, sizeof(dir), "%s/cache/kernels", top);
	snprintf(path, sizeof(path), "%s/vmlinuz", top);
	snprintf(path2, sizeof(path2), "%s/vmlinuz-2", top);
	make_elf(im, ALL_NOTES, EM_X86_64);
	blen = make_bzimage(bz, 65536, packed, compress_xz(im->buf, im->len, packed, 65536));
	put_file(path, bz, blen);

	/* a file changed just now is hashed but not indexed */
	ck_assert_str_eq(fresh_get(dir, 1 << 20, path, &c), "xz");
	ck_assert_uint_eq(c.disk_writes, 1);
	ck_assert_int_eq(index_records(dir, false), 0);
	ck_assert_str_eq(fresh_get(dir, 1 << 20, path, &c), "cached");
	ck_assert_uint_eq(c.index_hits, 0);
	only_entry(dir, entry, sizeof(entry));
	ck_assert_int_eq(unlink(entry), 0);
	settle();

	/* the first process decompresses and writes the entry (directories
	 * made, for this user only), and indexes the file's identity */
	ck_assert_str_eq(fresh_get(dir, 1 << 20, path, &c), "xz");
	ck_assert_uint_eq(c.disk_writes, 1);
	ck_assert_uint_eq(c.disk_hits, 0);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0700);
	only_entry(dir, entry, sizeof(entry));
	ck_assert_int_eq(stat(entry, &st), 0);
	ck_assert_uint_eq(st.st_size, im->len);
	ck_assert_int_eq(index_records(dir, false), 1);

	/* the next reads it: no decompression, and through the index: the
	 * kernel file is not read or hashed */
	ck_assert_str_eq(fresh_get(dir, 1 << 20, path, &c), "cached");
	ck_assert_uint_eq(c.disk_hits, 1);
	ck_assert_uint_eq(c.index_hits, 1);
	ck_assert_uint_eq(c.disk_writes, 0);

	/* an entry's segments are read from its file when loaded: the same
	 * memory as the kernel parsed whole; an entry cut short while in use
	 * fails the load with EDERA_EIO, not the process */
	{
		struct ed_kimage *x;
		struct ed_kernel whole;
		uint8_t *a = malloc(12288), *b = malloc(12288);

		ck_assert_int_eq(ed_kernel_parse(&whole, im->buf, im->len, "t"), 0);
		memset(a, 0x55, 12288);
		memset(b, 0xaa, 12288);
		ck_assert_int_eq(ed_kernel_load(&whole, a), 0);
		ed_kcache_init(&c);
		ck_assert_int_eq(ed_kcache_set_dir(&c, dir, 1 << 20), 0);
		ck_assert_int_eq(ed_kcache_get(&c, path, &x), 0);
		ck_assert(x->k.from_fd);
		ck_assert_int_eq(ed_kernel_load(&x->k, b), 0);
		ck_assert_mem_eq(a, b, 12288);
		ck_assert_int_eq(truncate(entry, 4096), 0);
		ck_assert_int_eq(ed_kernel_load(&x->k, b), EDERA_EIO);
		ck_assert_ptr_nonnull(strstr(edera_last_error(), "changed while in use"));
		ed_kcache_put(&c, x);
		ed_kcache_fini(&c);
		ed_kernel_free(&whole);
		free(a);
		free(b);
		/* (the cut entry is found bad and written again by the next) */
		ck_assert_str_eq(fresh_get(dir, 1 << 20, path, &c), "xz");
		ck_assert_uint_eq(c.disk_bad, 1);
		ck_assert_str_eq(fresh_get(dir, 1 << 20, path, &c), "cached");
	}

	/* the file written again (the same bytes, its modification time put
	 * back): its status-change time differs, so the index does not answer;
	 * the bytes are hashed, the entry found, the new identity indexed */
	ck_assert_int_eq(stat(path, &st), 0);
	put_file(path, bz, blen);
	{
		struct timespec times[2] = { st.st_atim, st.st_mtim };

		ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
	}
	settle();
	ck_assert_str_eq(fresh_get(dir, 1 << 20, path, &c), "cached");
	ck_assert_uint_eq(c.disk_hits, 1);
	ck_assert_uint_eq(c.index_hits, 0);
	ck_assert_int_eq(index_records(dir, false), 2);
	ck_assert_str_eq(fresh_get(dir, 1 << 20, path, &c), "cached");
	ck_assert_uint_eq(c.index_hits, 1);

	/* a record that is not a digest is removed; the file hashed again */
	{
		DIR *d = opendir(dir);
		struct dirent *de;
		char rec[512];

		ck_assert_ptr_nonnull(d);
		while ((de = readdir(d)))
			if (strncmp(de->d_name, "id-", 3) == 0) {
				snprintf(rec, sizeof(rec), "%s/%s", dir, de->d_name);
				fd = open(rec, O_WRONLY | O_TRUNC);
				ck_assert_int_ge(fd, 0);
				ck_assert_int_eq(write(fd, "../../../../etc/passwd", 22), 22);
				close(fd);
			}
		closedir(d);
	}
	ck_assert_str_eq(fresh_get(dir, 1 << 20, path, &c), "cached");
	ck_assert_uint_eq(c.index_hits, 0);
	/* (the record of the identity before the rewrite is never read again:
	 * it stays, until there are more than the cache keeps) */
	ck_assert_int_eq(index_records(dir, false), 2);
	ck_assert_str_eq(fresh_get(dir, 1 << 20, path, &c), "cached");
	ck_assert_uint_eq(c.index_hits, 1);

	/* records are bounded: 70 old ones, then a new identity indexed: 64
	 * kept, the new one among them */
	for (int i = 0; i < 70; i++) {
		char rec[512];

		snprintf(rec, sizeof(rec), "%s/id-old-%d", dir, i);
		put_file(rec, (const uint8_t *)"x", 1);
	}
	put_file(path, bz, blen);
	settle();
	ck_assert_str_eq(fresh_get(dir, 1 << 20, path, &c), "cached");
	ck_assert_uint_eq(c.index_hits, 0);
	ck_assert_int_eq(index_records(dir, false), 64);
	ck_assert_str_eq(fresh_get(dir, 1 << 20, path, &c), "cached");
	ck_assert_uint_eq(c.index_hits, 1);

	/* a cut entry, then one of the right size that is not an ELF: each
	 * removed, the kernel decompressed and the entry written again; the
	 * thread's message is not the bad entry's */
	ck_assert_int_eq(truncate(entry, 100), 0);
	ed_error(EDERA_EINVAL, "before");
	ck_assert_str_eq(fresh_get(dir, 1 << 20, path, &c), "xz");
	ck_assert_uint_eq(c.disk_bad, 1);
	ck_assert_uint_eq(c.disk_writes, 1);
	ck_assert_str_eq(edera_last_error(), "before");
	fd = open(entry, O_WRONLY);
	ck_assert_int_eq(write(fd, "junk", 4), 4);
	close(fd);
	ck_assert_str_eq(fresh_get(dir, 1 << 20, path, &c), "xz");
	ck_assert_uint_eq(c.disk_bad, 1);
	ck_assert_str_eq(fresh_get(dir, 1 << 20, path, &c), "cached");

	/* another kernel (other bytes): its own entry; a bound of one entry
	 * keeps the newest */
	put_file(path2, bz,
	         make_bzimage(bz, 65536, packed, compress_gzip(im->buf, im->len, packed, 65536)));
	ck_assert_str_eq(fresh_get(dir, im->len * 3 / 2, path2, &c), "gzip");
	ck_assert_uint_eq(c.disk_writes, 1);
	only_entry(dir, entry2, sizeof(entry2));
	ck_assert_str_ne(entry2, entry);
	ck_assert_str_eq(fresh_get(dir, 1 << 20, path2, &c), "cached");

	/* a directory others may write to is not used */
	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_str_eq(fresh_get(dir, 1 << 20, path2, &c), "gzip");
	ck_assert_uint_eq(c.disk_hits + c.disk_writes, 0);
	ck_assert_int_eq(chmod(dir, 0700), 0);

	/* nor a symbolic link to one */
	snprintf(entry, sizeof(entry), "%s/link", top);
	ck_assert_int_eq(symlink(dir, entry), 0);
	ck_assert_str_eq(fresh_get(entry, 1 << 20, path2, &c), "gzip");
	ck_assert_uint_eq(c.disk_hits + c.disk_writes, 0);
	unlink(entry);

	/* a plain ELF kernel has nothing to decompress: not written */
	put_file(path, im->buf, im->len);
	ck_assert_str_eq(fresh_get(dir, 1 << 20, path, &c), "none");
	ck_assert_uint_eq(c.disk_hits + c.disk_writes, 0);

	unlink(entry2);
	index_records(dir, true);
	ck_assert_int_eq(rmdir(dir), 0);
	snprintf(entry, sizeof(entry), "%s/cache", top);
	rmdir(entry);
	unlink(path);
	unlink(path2);
	ck_assert_int_eq(rmdir(top), 0);
	free(im);
	free(packed);
	free(bz);
}
END_TEST

Suite *image_suite(void)
{
	Suite *s = suite_create("image");
	TCase *tc = tcase_create("kernel");

	tcase_add_test(tc, plain_elf);
	tcase_add_test(tc, missing_notes_and_wrong_machine);
	tcase_add_test(tc, bzimage_payloads);
	tcase_add_test(tc, read_file_errors);
	tcase_add_test(tc, kernel_cache_shares_and_notices_changes);
	tcase_add_test(tc, kernel_cache_on_disk);
	suite_add_tcase(s, tc);
	return s;
}
