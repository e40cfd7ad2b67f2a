/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A guest test program: prints a line the host can only see if the program
 * really ran in the guest with the arguments given, and exits with 3. */
#include <stdio.h>

int main(int argc, char **argv)
{
	printf("EDERA-TEST-PROGRAM %s %d\n", argc > 1 ? argv[1] : "-", 6 * 7);
	return 3;
}
