#ifndef SM_VMM_LOG_H
#define SM_VMM_LOG_H
/* VMM diagnostics go to stderr as "sm vmm: ..." lines. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern int log_verbose;
#endif
