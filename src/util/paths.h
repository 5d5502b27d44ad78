#ifndef SM_UTIL_PATHS_H
#define SM_UTIL_PATHS_H
/* Where sm's own files are: in the build tree or installed under a prefix. */
const char *paths__exe(void);        /* this executable, absolute */
const char *paths__lua_dir(void);    /* directory holding sm/cli.lua */
const char *paths__guest_dir(void);  /* directory holding vmlinux, initramfs.cpio */
const char *paths__vmm(void);        /* the lean VMM executable beside sm, or NULL */
#endif
