#ifndef SM_OCI_TREE_H
#define SM_OCI_TREE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
/*
 * The directory tree of one layer, built in memory while its tar streams
 * by (file data goes straight to the image; only metadata is kept here).
 * Paths are never touched on the host: a tar path only ever names a node.
 */
struct tree_xattr {
	struct tree_xattr *next;
	char *key;
	void *value;
	size_t size;
};

struct tree_node {
	char *name;
	struct tree_node *parent, *children, *next;  /* children sorted by tree__sort */
	struct tree_node *hnext;                      /* hash chain */
	struct tree_node *link;                       /* hard link: the node it names */
	struct tree_xattr *xattrs;
	mode_t mode;
	uint32_t uid, gid, mtime, nlink;
	uint64_t devno;
	char *target;                                 /* symlink */
	void *wdata;                                  /* regular file: the writer's record (free()d) */
	uint32_t inode_num, xattr_idx;                /* the writer's numbering */
	uint64_t inode_ref;                           /* squashfs inode ref / erofs nid */
};

struct tree;
struct tree *tree__new(void);
void tree__free(struct tree *t);
struct tree_node *tree__root(struct tree *t);
size_t tree__count(const struct tree *t);
/* Child by name, or NULL. */
struct tree_node *tree__child(struct tree *t, struct tree_node *dir, const char *name);
/* A new node under dir replacing any same-named child (kept alive: links may name it). */
struct tree_node *tree__add(struct tree *t, struct tree_node *dir, const char *name, mode_t mode);
int  tree__xattr_set(struct tree_node *n, const char *key, const void *value, size_t size);
int  tree__sort(struct tree_node *dir);
/* The node that holds the inode: n itself, or the end of its hard-link chain. */
struct tree_node *tree__final(struct tree_node *n);
/* Sorts every directory and sets nlink of every non-directory to the
 * number of directory entries that name it. */
int  tree__link_counts(struct tree_node *root);
#endif
