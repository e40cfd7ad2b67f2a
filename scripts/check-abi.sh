#!/bin/bash
# make check-abi: the built libedera against the committed ABI baseline of
# the current soname (abi/libedera.so.N.abi, made by abidw from
# abigail-tools).  Fails on an incompatible change (a function removed, its
# signature or a type it uses changed; a sized struct may only grow at its
# end); an addition passes when it is in a version node newer than the
# baseline's (lib/libedera.sym gets one per release: EDERA_0.1, EDERA_0.2...).
# Also fails when configure.ac's version, the libtool -version-info and the
# symbol versions drift apart.
# Usage: check-abi.sh SRCDIR BUILDDIR
set -euo pipefail
src=${1:?usage: check-abi.sh SRCDIR BUILDDIR}
build=${2:?usage: check-abi.sh SRCDIR BUILDDIR}
die() { echo "check-abi: $*" >&2; exit 1; }
command -v abidiff >/dev/null ||
	die "abidiff not found: install the Debian package abigail-tools (scripts/install-deps.sh)"
so=$(readlink -f "$build/lib/.libs/libedera.so")
[ -f "$so" ] || die "no built library at $build/lib/.libs/libedera.so: run make first"
soname=$(objdump -p "$so" | awk '$1 == "SONAME" {print $2}')
baseline="$src/abi/$soname.abi"

# 1. versions in step: configure.ac's MAJOR.MINOR names the newest node of
# the version script, and the soname's number is libtool's CURRENT - AGE.
ver=$(sed -n 's/^AC_INIT(\[libedera\], \[\([0-9]*\.[0-9]*\)\.[0-9]*\].*/\1/p' "$src/configure.ac")
lt=$(sed -n 's/^AC_SUBST(\[EDERA_LT_VERSION\], \[\([0-9:]*\)\])/\1/p' "$src/configure.ac")
[ -n "$ver" ] && [ -n "$lt" ] || die "cannot read the version or EDERA_LT_VERSION in configure.ac"
newest=$(grep -o '^EDERA_[0-9]*\.[0-9]*' "$src/lib/libedera.sym" | sort -V | tail -n 1 || true)
[ -n "$newest" ] || die "no version node (EDERA_MAJOR.MINOR) in lib/libedera.sym"
[ "$newest" = "EDERA_$ver" ] ||
	die "configure.ac says version $ver but the newest node of lib/libedera.sym is $newest: a release's additions go in a node EDERA_$ver"
IFS=: read -r current _ age <<<"$lt"
[ "$soname" = "libedera.so.$((current - age))" ] ||
	die "the library's soname is $soname but -version-info $lt makes libedera.so.$((current - age))"

# 2. the baseline of this soname
[ -f "$baseline" ] || die "no ABI baseline for $soname ($baseline).
A new soname (an incompatible release) needs its baseline committed with a
note in NEWS: make abi-baseline, then git add abi/$soname.abi NEWS"

# 3. the comparison, of the baseline and the built library's ABI read the
# same way.  abidiff's exit status is a bit mask (1 error, 2 usage, 4 a
# change, 8 an incompatible one).  Of the changes, two kinds are kept
# compatible by the library's rules, and pass: a sized struct (first member
# "size_t sz", set by its _init) growing at its end (callers built against
# the baseline pass their smaller size, and the library reads only that
# much), and new enumerators.  Any other change to a type or a function old
# callers use fails.
new_abi=$(mktemp)
trap 'rm -f "$new_abi"' EXIT
abidw --suppressions "$src/abi/private.supp" --no-corpus-path \
	--out-file "$new_abi" "$so" || die "abidw could not read $so"
rc=0
# (the private types were dropped when each was written: abidiff 2.2
# asserts when asked to drop them again while reading)
report=$(abidiff --no-added-syms --leaf-changes-only --impacted-interfaces \
	"$baseline" "$new_abi" 2>&1) || rc=$?
if [ $((rc & 3)) -ne 0 ]; then
	echo "$report" >&2
	die "abidiff failed (status $rc)"
fi
sized=$(awk '/^typedef struct [a-z_0-9]+ \{/ { name = $3; getline; if ($0 ~ /^[ \t]*size_t sz;/) print name }' \
	"$src"/include/edera/*.h | sort -u | tr '\n' ' ')
# each changed leaf type is a block "'KIND NAME at FILE:LINE' changed:";
# print what is not allowed
bad=$(printf '%s\n' "$report" | awk -v sized="$sized" '
	function flush() { if (inblock && (badblock || !allowed)) print hdr; inblock = 0 }
	BEGIN { n = split(sized, a, " "); for (i = 1; i <= n; i++) ok[a[i]] = 1 }
	/^\047[^\047]*\047 changed:$/ {
		flush(); inblock = 1; hdr = $0; kind = substr($1, 2); name = $2; old = -1
		isenum = kind == "enum"; allowed = (kind == "struct" && (name in ok)) || isenum
		badblock = 0; imp = 0; next
	}
	!inblock && /^(Leaf changes|Changed leaf types|Removed\/Changed\/Added (functions|variables)) summary:/ { next }
	/^$/ { next }
	!inblock { print; next }
	/^  (one|[0-9]+) impacted interfaces?:?$/ { imp = 1; next }
	imp && /^    / { next }
	{ imp = 0 }
	/^  type size changed from [0-9]+ to [0-9]+ \(in bits\)$/ {
		old = $5 + 0; if ($7 + 0 < old) badblock = 1; next
	}
	!isenum && /^  (one|[0-9]+) data member insertions?:$/ { next }
	!isenum && /^    \047.*\047, at offset [0-9]+ \(in bits\)/ {
		off = $0; sub(/.*\047, at offset /, "", off); sub(/ .*/, "", off)
		if (old < 0 || off + 0 < old) badblock = 1; next
	}
	isenum && /^  type size hasn\047t changed$/ { next }
	isenum && /^  (one|[0-9]+) enumerator insertions?:$/ { next }
	isenum && /^    \047[^\047]*\047 value/ { next }
	{ badblock = 1 }
	END { flush() }')
if [ $((rc & 8)) -ne 0 ] || [ -n "$bad" ]; then
	echo "$report" >&2
	[ -z "$bad" ] || printf 'check-abi: not allowed:\n%s\n' "$bad" >&2
	die "the ABI of $soname changed incompatibly since its baseline (above).
Programs built against the baseline would break. Keep the old functions and
struct layouts (a sized struct grows only at its end), or make an
incompatible release: bump -version-info's CURRENT (and AGE to 0) in
configure.ac, run make abi-baseline, and say why in NEWS."
fi
if [ $((rc & 4)) -ne 0 ]; then
	echo "$report"
	echo "check-abi: compatible changes since the baseline (above)"
fi

# 3b. a sized struct that grew: its _init function, which clears and sizes
# the caller's struct, would write past an old caller's smaller one.  So the
# old symbol must stay at the version the baseline has it (a function
# writing the old size, bound with .symver), and the new one be the default
# in a newer node.
# the version a symbol has in the baseline (what programs built against it
# bind to), and the baseline's newest
base_version() {
	sed -n "s/.*<elf-symbol name='$1' version='\(EDERA_[0-9.]*\)'.*/\1/p" "$baseline" | head -n 1
}
base_newest=$(grep -o "<elf-symbol name='[^']*' version='EDERA_[0-9.]*'" "$baseline" |
	sed "s/.*version='\(.*\)'/\1/" | sort -u -V | tail -n 1 || true)
[ -n "$base_newest" ] || die "no versioned symbols in the baseline $baseline"
exports=$(nm -D --defined-only --with-symbol-versions "$so" | awk '$2 == "T" || $2 == "D" || $2 == "B" {print $3}')
grown=$(printf '%s\n' "$report" | awk '
	/^\047struct [a-z_0-9]+ at .*\047 changed:$/ { name = $2; next }
	/^  type size changed from [0-9]+ to [0-9]+ \(in bits\)$/ { if (name != "" && $7 + 0 > $5 + 0) print name; name = ""; next }
	/^[^ ]/ { name = "" }')
for t in $grown; do
	init=${t}_init
	iv=$(base_version "$init")
	[ -n "$iv" ] || continue
	if ! grep -qx "$init@$iv" <<<"$exports" || ! grep -qx "$init@@EDERA_$ver" <<<"$exports"; then
		die "$t grew since the baseline, but $init is not both the baseline's ($iv, writing the old size) and the default of this release (EDERA_$ver).
A program built against the baseline allocates the smaller $t and would
have it overrun by the new $init. Keep the old one under its old version
(a function writing the old size, bound with
__asm__(\".symver old_fn, $init@$iv\")) and export the new one as
$init@@EDERA_$ver, listed in a new node of lib/libedera.sym."
	fi
done

# 4. additions are versioned: every exported symbol the baseline lacks is
# in a node newer than the baseline's newest (no new function may join a
# node old programs were built against)
while read -r sym; do
	name=${sym%%@*}
	v=${sym##*@}
	grep -q "elf-symbol name='$name'" "$baseline" && continue
	if [ "$v" = "$name" ] || [ "$(printf '%s\n%s\n' "$v" "$base_newest" | sort -V | tail -n 1)" != "$v" ] ||
		[ "$v" = "$base_newest" ]; then
		die "$name is new since the baseline but its version ($v) is not newer than the baseline's newest node $base_newest: a release's additions go in a node of their own (raise the version in configure.ac, add a node EDERA_MAJOR.MINOR to lib/libedera.sym that inherits $base_newest, and list $name there)"
	fi
done < <(nm -D --defined-only --with-symbol-versions "$so" | awk '$2 == "T" || $2 == "D" || $2 == "B" {print $3}' | sed 's/@@*/@/')
# 5. old callers, run: for each sized struct with an _init in the baseline,
# a program holding the struct at its baseline size (read from the
# baseline) calls the _init an old program binds to (its baseline version,
# through dlvsym) and checks it wrote no byte past that size and set sz to
# it.  A struct grown with its _init left unversioned fails here too.
cprog=$(mktemp --suffix=.c)
cbin=$(mktemp)
trap 'rm -f "$new_abi" "$cprog" "$cbin"' EXIT
{
	echo '#define _GNU_SOURCE'
	echo '#include <dlfcn.h>'
	echo '#include <stdio.h>'
	echo '#include <string.h>'
	echo 'static const struct { const char *init, *version; size_t size; } ts[] = {'
	for t in $sized; do
		iv=$(base_version "${t}_init")
		[ -n "$iv" ] || continue
		bits=$(grep -o "<class-decl name='$t' size-in-bits='[0-9]*'" "$baseline" | head -n 1 |
			sed "s/.*size-in-bits='\([0-9]*\)'/\1/" || true)
		[ -n "$bits" ] || die "no size for $t in the baseline"
		echo "	{ \"${t}_init\", \"$iv\", $((bits / 8)) },"
	done
	cat <<EOC
};
static unsigned char buf[65536];
int main(int argc, char **argv)
{
	void *h = dlopen(argv[1], RTLD_NOW);
	int bad = 0;

	if (!h) {
		fprintf(stderr, "%s\n", dlerror());
		return 2;
	}
	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		void (*init)(void *) = (void (*)(void *))dlvsym(h, ts[i].init, ts[i].version);
		size_t sz;

		if (!init) {
			fprintf(stderr, "%s@%s is gone\n", ts[i].init, ts[i].version);
			bad = 1;
			continue;
		}
		memset(buf, 0xa5, sizeof(buf));
		init(buf);
		memcpy(&sz, buf, sizeof(sz));
		for (size_t k = ts[i].size; k < sizeof(buf); k++)
			if (buf[k] != 0xa5) {
				fprintf(stderr, "%s wrote past the %zu bytes of the baseline's struct "
				        "(byte %zu)\n", ts[i].init, ts[i].size, k);
				bad = 1;
				break;
			}
		if (sz != ts[i].size) {
			fprintf(stderr, "%s set sz to %zu, not the baseline's %zu\n", ts[i].init, sz,
			        ts[i].size);
			bad = 1;
		}
	}
	printf("%zu _init functions called as a program built against the baseline calls them\n",
	       sizeof(ts) / sizeof(ts[0]));
	return bad;
}
EOC
} >"$cprog"
${CC:-cc} -o "$cbin" "$cprog" -ldl || die "could not build the old-caller check"
"$cbin" "$so" || die "a program built against the baseline's structs is broken by this library (above)"

echo "check-abi: $soname matches its baseline ($(grep -c '<elf-symbol ' "$baseline") symbols; newest node $newest)"
