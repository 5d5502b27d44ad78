/* In-memory layer tree with a (parent, name) hash for O(1) lookups. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "oci/tree.h"

#define TREE_BUCKETS0 1024

struct tree {
	struct tree_node root;
	struct tree_node **buckets;
	size_t nbuckets, count;
	struct tree_node *graveyard;   /* replaced nodes, freed with the tree */
};

static size_t hash(const struct tree_node *dir, const char *name)
{
	size_t h = (size_t)(uintptr_t)dir * 0x9e3779b97f4a7c15ull;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return h;
}

struct tree *tree__new(void)
{
	struct tree *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->nbuckets = TREE_BUCKETS0;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	t->root.name = strdup("");
	if (!t->buckets || !t->root.name) {
		tree__free(t);
		return NULL;
	}
	t->root.mode = S_IFDIR | 0755;
	t->root.xattr_idx = 0xffffffff;
	return t;
}

static void node_free(struct tree_node *n)
{
	struct tree_xattr *x, *nx;

	for (x = n->xattrs; x; x = nx) {
		nx = x->next;
		free(x->key);
		free(x->value);
		free(x);
	}
	free(n->name);
	free(n->target);
	free(n->wdata);
}

static void subtree_free(struct tree_node *n)
{
	struct tree_node *c, *nc;

	for (c = n->children; c; c = nc) {
		nc = c->next;
		subtree_free(c);
		node_free(c);
		free(c);
	}
}

void tree__free(struct tree *t)
{
	struct tree_node *g, *ng;

	if (!t)
		return;
	subtree_free(&t->root);
	for (g = t->graveyard; g; g = ng) {
		ng = g->next;
		subtree_free(g);
		node_free(g);
		free(g);
	}
	node_free(&t->root);
	free(t->buckets);
	free(t);
}

struct tree_node *tree__root(struct tree *t)
{
	return &t->root;
}

size_t tree__count(const struct tree *t)
{
	return t->count;
}

struct tree_node *tree__child(struct tree *t, struct tree_node *dir, const char *name)
{
	struct tree_node *n = t->buckets[hash(dir, name) & (t->nbuckets - 1)];

	for (; n; n = n->hnext)
		if (n->parent == dir && strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

static void unhash(struct tree *t, struct tree_node *n)
{
	struct tree_node **pp = &t->buckets[hash(n->parent, n->name) & (t->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == n) {
			*pp = n->hnext;
			return;
		}
}

static void rehash_node(struct tree *t, struct tree_node *n)
{
	size_t b = hash(n->parent, n->name) & (t->nbuckets - 1);

	n->hnext = t->buckets[b];
	t->buckets[b] = n;
}

static void rehash_subtree(struct tree *t, struct tree_node *dir)
{
	for (struct tree_node *c = dir->children; c; c = c->next) {
		rehash_node(t, c);
		rehash_subtree(t, c);
	}
}

static int grow(struct tree *t)
{
	struct tree_node **nb = calloc(t->nbuckets * 2, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets *= 2;
	rehash_subtree(t, &t->root);
	return 0;
}

/* Descendants of a replaced directory must not be found by name any more. */
static void unhash_subtree(struct tree *t, struct tree_node *dir)
{
	for (struct tree_node *c = dir->children; c; c = c->next) {
		unhash(t, c);
		unhash_subtree(t, c);
	}
}

static void detach(struct tree *t, struct tree_node *old)
{
	struct tree_node **pp = &old->parent->children;

	for (; *pp; pp = &(*pp)->next)
		if (*pp == old) {
			*pp = old->next;
			break;
		}
	unhash(t, old);
	unhash_subtree(t, old);
	old->next = t->graveyard;
	t->graveyard = old;
}

struct tree_node *tree__add(struct tree *t, struct tree_node *dir, const char *name, mode_t mode)
{
	struct tree_node *old = tree__child(t, dir, name), *n;

	if (t->count >= t->nbuckets && grow(t) < 0)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(name))) {
		free(n);
		errno = ENOMEM;
		return NULL;
	}
	if (old)
		detach(t, old);
	n->parent = dir;
	n->mode = mode;
	n->nlink = 1;
	n->xattr_idx = 0xffffffff;
	n->next = dir->children;
	dir->children = n;
	rehash_node(t, n);
	t->count++;
	return n;
}

int tree__xattr_set(struct tree_node *n, const char *key, const void *value, size_t size)
{
	struct tree_xattr *x;

	for (x = n->xattrs; x; x = x->next)
		if (strcmp(x->key, key) == 0)
			break;
	if (!x) {
		x = calloc(1, sizeof(*x));
		if (!x || !(x->key = strdup(key))) {
			free(x);
			return -ENOMEM;
		}
		x->next = n->xattrs;
		n->xattrs = x;
	}
	free(x->value);
	x->value = malloc(size ? size : 1);
	if (!x->value)
		return -ENOMEM;
	memcpy(x->value, value, size);
	x->size = size;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(struct tree_node *const *)a)->name, (*(struct tree_node *const *)b)->name);
}

/* squashfs wants directory entries in byte order of their names. */
int tree__sort(struct tree_node *dir)
{
	struct tree_node **v, *c;
	size_t n = 0, i = 0;

	for (c = dir->children; c; c = c->next)
		n++;
	if (n < 2)
		return 0;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (c = dir->children; c; c = c->next)
		v[i++] = c;
	qsort(v, n, sizeof(*v), by_name);
	for (i = 0; i + 1 < n; i++)
		v[i]->next = v[i + 1];
	v[n - 1]->next = NULL;
	dir->children = v[0];
	free(v);
	return 0;
}

struct tree_node *tree__final(struct tree_node *n)
{
	while (n->link)
		n = n->link;
	return n;
}

/* pass 0 clears, pass 1 counts: a replaced hard-link target or a replaced
 * link no longer in the tree must not count */
static int count_links(struct tree_node *dir, int pass)
{
	int r = pass == 0 ? tree__sort(dir) : 0;

	for (struct tree_node *c = dir->children; c && r == 0; c = c->next) {
		struct tree_node *t = tree__final(c);

		if (S_ISDIR(t->mode))
			r = count_links(t, pass);
		else if (pass == 0)
			t->nlink = 0;
		else
			t->nlink++;
	}
	return r;
}

int tree__link_counts(struct tree_node *root)
{
	int r = count_links(root, 0);

	return r < 0 ? r : count_links(root, 1);
}
