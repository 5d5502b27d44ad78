/*
 * Guest test tool: do this process's vector registers survive the kernel
 * switching to other processes?  Loads every YMM (AVX) or ZMM and opmask
 * register (AVX-512) with a pattern from the seed, makes a system call that
 * yields the CPU, stores them back and compares — N rounds, all inside one
 * asm block so nothing but the kernel can touch them in between.  Run two
 * at once with different seeds (spec/integration/vector_state_spec.lua;
 * docs/emulating-hosts.md "Extended register state").
 *   sm-vector-check SEED ROUNDS  ->  "vector-check: avx512 ROUNDS rounds, M mismatches"
 */
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>


static unsigned char in[32 * 64 + 8 * 8] __attribute__((aligned(64)));
static unsigned char out[sizeof(in)] __attribute__((aligned(64)));

static int usable(uint64_t need_xcr0, int leaf7_ebx_bit)
{
	unsigned a, b, c, d;
	uint32_t lo, hi;

	__cpuid_count(1, 0, a, b, c, d);
	if (!(c & (1u << 27)) || !(c & (1u << 28)))		/* OSXSAVE, AVX */
		return 0;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	if ((((uint64_t)hi << 32 | lo) & need_xcr0) != need_xcr0)
		return 0;
	if (leaf7_ebx_bit < 0)
		return 1;
	__cpuid_count(7, 0, a, b, c, d);
	return !!(b & (1u << leaf7_ebx_bit));
}

#define L(n) "vmovdqu64 " #n "*64(%0), %%zmm" #n "\n\t"
#define S(n) "vmovdqu64 %%zmm" #n ", " #n "*64(%1)\n\t"
#define K(n) "kmovq " #n "*8+2048(%0), %%k" #n "\n\t"
#define KS(n) "kmovq %%k" #n ", " #n "*8+2048(%1)\n\t"

static void round_avx512(void)
{
	__asm__ volatile(
		L(0) L(1) L(2) L(3) L(4) L(5) L(6) L(7) L(8) L(9) L(10) L(11) L(12) L(13) L(14) L(15)
		L(16) L(17) L(18) L(19) L(20) L(21) L(22) L(23) L(24) L(25) L(26) L(27) L(28) L(29)
		L(30) L(31) K(1) K(2) K(3) K(4) K(5) K(6) K(7)
		"mov %2, %%eax\n\tsyscall\n\t"
		S(0) S(1) S(2) S(3) S(4) S(5) S(6) S(7) S(8) S(9) S(10) S(11) S(12) S(13) S(14) S(15)
		S(16) S(17) S(18) S(19) S(20) S(21) S(22) S(23) S(24) S(25) S(26) S(27) S(28) S(29)
		S(30) S(31) KS(1) KS(2) KS(3) KS(4) KS(5) KS(6) KS(7)
		: : "r"(in), "r"(out), "i"(SYS_sched_yield)
		: "rax", "rcx", "r11", "memory");
}

#define LY(n) "vmovdqu " #n "*32(%0), %%ymm" #n "\n\t"
#define SY(n) "vmovdqu %%ymm" #n ", " #n "*32(%1)\n\t"

static void round_avx(void)
{
	__asm__ volatile(
		LY(0) LY(1) LY(2) LY(3) LY(4) LY(5) LY(6) LY(7) LY(8) LY(9) LY(10) LY(11) LY(12)
		LY(13) LY(14) LY(15)
		"mov %2, %%eax\n\tsyscall\n\t"
		SY(0) SY(1) SY(2) SY(3) SY(4) SY(5) SY(6) SY(7) SY(8) SY(9) SY(10) SY(11) SY(12)
		SY(13) SY(14) SY(15)
		"vzeroupper\n\t"
		: : "r"(in), "r"(out), "i"(SYS_sched_yield)
		: "rax", "rcx", "r11", "memory");
}

int main(int argc, char **argv)
{
	int avx512 = usable(0xe6, 16), rounds = argc > 2 ? atoi(argv[2]) : 200, bad = 0;
	size_t len = avx512 ? sizeof(in) : 16 * 32;
	unsigned seed = argc > 1 ? (unsigned)atoi(argv[1]) : 1;

	if (!avx512 && !usable(0x6, -1)) {
		printf("vector-check: no AVX in this guest's user mode; nothing to check\n");
		return 0;
	}
	for (int r = 0; r < rounds; r++) {
		for (size_t i = 0; i < len; i++)
			in[i] = (unsigned char)(seed * 131 + (unsigned)r * 7 + i * 13);
		memset(in + 2048, 0, 8);		/* k0 is not loaded */
		memset(out, 0, sizeof(out));
		if (avx512)
			round_avx512();
		else
			round_avx();
		bad += memcmp(in, out, len) != 0;
	}
	printf("vector-check: %s %d rounds, %d mismatches\n", avx512 ? "avx512" : "avx", rounds, bad);
	return bad ? 1 : 0;
}
