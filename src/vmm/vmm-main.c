#include <stdio.h>
#include "vmm/vmm-main.h"
int vmm__main(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "sm vmm: not built yet\n");
	return 1;
}
