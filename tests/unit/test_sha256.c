/* SHA-256 against the FIPS 180-4 examples and OpenSSL-free edge cases. */
#include <string.h>

#include "tap.h"
#include "util/sha256.h"

int main(void)
{
	char d[72];
	static char million[1000000];
	struct sha256 s;
	uint8_t sum[32];

	sha256__digest("", 0, d);
	is_str(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "empty");
	sha256__digest("abc", 3, d);
	is_str(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "abc");
	sha256__digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, d);
	is_str(d, "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "two blocks");
	memset(million, 'a', sizeof(million));
	sha256__init(&s);
	for (int i = 0; i < 1000; i++)
		sha256__update(&s, million + i * 1000, 1000);
	sha256__final(&s, sum);
	sha256__format(sum, d);
	is_str(d, "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", "a million a's, in pieces");
	return done_testing();
}
