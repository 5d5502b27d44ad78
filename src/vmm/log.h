#ifndef SM_VMM_LOG_H
#define SM_VMM_LOG_H
/* VMM diagnostics go to stderr as "sm vmm: ..." lines. */
void log__warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log__info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern int log__verbose;
#endif
