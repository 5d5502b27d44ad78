/* libFuzzer: any bytes as a layer (tar, gzip, zstd) -> erofs and squashfs
 * must fail cleanly or produce an image; never crash, leak or touch the
 * host by a tar path (the only file written is the output image). */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "oci/layer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[64];

	snprintf(out, sizeof(out), "/tmp/sm-fuzz-layer-%d.img", (int)getpid());
	oci_layer__convert_mem(data, size, out, OCI_LAYER_EROFS, NULL);
	oci_layer__convert_mem(data, size, out, OCI_LAYER_SQUASHFS, NULL);
	unlink(out);
	return 0;
}
