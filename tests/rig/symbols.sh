#!/bin/bash
# The shared library exports exactly the symbols of lib/libedera.sym, all
# with the edera_ prefix, and each public header compiles on its own.
set -eu
: "${abs_top_srcdir:?set by make check}" "${abs_top_builddir:?set by make check}"
so=$(ls "$abs_top_builddir"/lib/.libs/libedera.so.* | head -n 1)
exported=$(nm -D --defined-only "$so" | awk '$2 == "T" || $2 == "D" || $2 == "B" {print $3}' | sed 's/@.*//' | sort)
listed=$(sed -n 's/^[[:space:]]*\(edera_[a-z0-9_]*\);/\1/p' "$abs_top_srcdir/lib/libedera.sym" | sort)
if [ "$exported" != "$listed" ]; then
	echo "symbols: exported and listed symbols differ:" >&2
	diff <(echo "$listed") <(echo "$exported") >&2 || true
	exit 1
fi
bad=$(echo "$exported" | grep -v '^edera_' || true)
[ -z "$bad" ] || { echo "symbols: exported without the edera_ prefix: $bad" >&2; exit 1; }
for h in "$abs_top_srcdir"/include/edera/*.h; do
	echo "#include <edera/$(basename "$h")>" |
		${CC:-cc} -std=c11 -Wall -Wextra -Werror -fsyntax-only -x c \
			-I"$abs_top_srcdir/include" -I"$abs_top_builddir/include" - ||
		{ echo "symbols: $h does not compile on its own" >&2; exit 1; }
done
echo "symbols: $(echo "$exported" | wc -l) exported, all listed; headers self-contained"
