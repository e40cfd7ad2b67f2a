/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one list the library uses: intrusive, doubly linked, with the head
 * and tail in an ed_list and an ed_link in each element (reached back with
 * ed_container_of).  No allocation, O(1) insertion and removal; an element
 * not on a list has both links NULL, and removing it again is harmless. */
#ifndef EDERA_LIST_H
#define EDERA_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "internal.h"

struct ed_link {
	struct ed_link *prev, *next;
};

struct ed_list {
	struct ed_link *head, *tail;
};

static inline bool ed_list_empty(const struct ed_list *l)
{
	return l->head == NULL;
}

static inline bool ed_linked(const struct ed_list *l, const struct ed_link *e)
{
	return e->prev || e->next || l->head == e;
}

static inline void ed_list_push_front(struct ed_list *l, struct ed_link *e)
{
	e->prev = NULL;
	e->next = l->head;
	if (l->head)
		l->head->prev = e;
	else
		l->tail = e;
	l->head = e;
}

static inline void ed_list_push_back(struct ed_list *l, struct ed_link *e)
{
	e->next = NULL;
	e->prev = l->tail;
	if (l->tail)
		l->tail->next = e;
	else
		l->head = e;
	l->tail = e;
}

/* E off L (nothing when it is on no list). */
static inline void ed_list_remove(struct ed_list *l, struct ed_link *e)
{
	if (!ed_linked(l, e))
		return;
	if (e->prev)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = NULL;
}

/* The element holding link E (NULL for a NULL link). */
#define ed_list_entry(e, type, member) \
	((e) ? ed_container_of((e), type, member) : (type *)NULL)

#define ed_list_first(l, type, member) ed_list_entry((l)->head, type, member)
#define ed_list_next(it, type, member) ed_list_entry((it)->member.next, type, member)

/* Each element of L in order, as IT (of TYPE, linked by MEMBER).  The body
 * may not remove IT; ED_LIST_EACH_SAFE allows that (it reads the next
 * element first, into NX). */
#define ED_LIST_EACH(it, l, type, member) \
	for (type *it = ed_list_first(l, type, member); it; it = ed_list_next(it, type, member))
#define ED_LIST_EACH_SAFE(it, nx, l, type, member)                                        \
	for (type *it = ed_list_first(l, type, member), *nx = it ? ed_list_next(it, type, member) \
	                                                         : NULL;                  \
	     it; it = nx, nx = it ? ed_list_next(it, type, member) : NULL)

#endif
