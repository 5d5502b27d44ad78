#ifndef SM_VMM_MAIN_H
#define SM_VMM_MAIN_H
/* `sm vmm ...`: run one VM in this process (docs/vmm.md). */
int vmm__main(int argc, char **argv);
#endif
