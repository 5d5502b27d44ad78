#ifndef SM_GUEST_VM_SOCKETS_H
#define SM_GUEST_VM_SOCKETS_H
/* What <linux/vm_sockets.h> gives (the kernel's ABI): musl ships no kernel
 * headers, and the guest's programs are built with musl-gcc. */
#include <sys/socket.h>

#ifndef AF_VSOCK
#define AF_VSOCK	40
#endif
struct sockaddr_vm {
	sa_family_t svm_family;
	unsigned short svm_reserved1;
	unsigned int svm_port, svm_cid;
	unsigned char svm_zero[4];
};
#define VMADDR_CID_ANY	0xffffffffU
#define VMADDR_CID_HOST	2U
#endif
