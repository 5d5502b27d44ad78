/* `sm vmm` option parsing and its one-line errors. */
#include <string.h>

#include "tap.h"
#include "vmm/vmm-opts.h"

static int parse(struct vmm_opts *o, char *msg, int argc, char **argv)
{
	msg[0] = '\0';
	return vmm_opts__parse(o, argc, argv, msg, 256);
}

int main(void)
{
	struct vmm_opts o;
	char msg[256];
	char *good[] = { "vmm", "--kernel", "k", "--memory", "512", "--vcpus", "4", "--disk", "a.img",
			 "--disk", "b.img:ro", "--verbose", "--status-fd", "3" };
	char *v0[] = { "vmm", "--kernel", "k", "--vcpus", "0" };
	char *v17[] = { "vmm", "--kernel", "k", "--vcpus", "17" };
	char *m32[] = { "vmm", "--kernel", "k", "--memory", "32" };
	char *nok[] = { "vmm", "--memory", "128" };
	char *junk[] = { "vmm", "--kernel", "k", "--vcpus", "4x" };
	char *novalue[] = { "vmm", "--kernel" };
	char *init[] = { "vmm", "--kernel", "k", "--init", "l:vda", "--init", "e:A=b:c", "--", "sh" };
	char *badkind[] = { "vmm", "--kernel", "k", "--init", "a:x" };
	char *nocolon[] = { "vmm", "--kernel", "k", "--init", "hname" };
	char *standby[] = { "vmm", "--restore", "d", "--control-fd", "4", "--standby" };
	char *sb_boot[] = { "vmm", "--kernel", "k", "--control-fd", "4", "--standby" };
	char *sb_noctl[] = { "vmm", "--restore", "d", "--standby" };
	char *nosnap[] = { "vmm", "--restore", "d", "--no-snapshots" };
	char *nosnap_to[] = { "vmm", "--restore", "d", "--no-snapshots", "--snapshot-to", "x", "--snapshot-after-ms", "5" };
	char *egress[] = { "vmm", "--kernel", "k", "--egress", "allowlist:127.0.0.1/32", "--egress-mtu", "1500" };
	char *egress_off[] = { "vmm", "--kernel", "k", "--egress", "off" };
	char *egress_mtu[] = { "vmm", "--kernel", "k", "--egress", "deny_private", "--egress-mtu", "65521" };
	char *prof[] = { "vmm", "--restore", "d", "--profile", "p.txt", "--profile-us", "250" };
	char *prof_def[] = { "vmm", "--restore", "d", "--profile", "p.txt" };
	char *prof_fast[] = { "vmm", "--restore", "d", "--profile", "p.txt", "--profile-us", "99" };
	char *prof_empty[] = { "vmm", "--restore", "d", "--profile", "" };
	char *prof_paused[] = { "vmm", "--restore", "d", "--profile", "p", "--control-fd", "4", "--profile-paused" };
	char *prof_paused_noctl[] = { "vmm", "--restore", "d", "--profile", "p", "--profile-paused" };

	ok(parse(&o, msg, 9, init) == 0 && o.nr_init == 2 && !strcmp(o.init[0], "l:vda") &&
	   !strcmp(o.init[1], "e:A=b:c") && o.argc == 1, "--init K:VALUE entries kept in order");
	ok(parse(&o, msg, 5, badkind) < 0 && strstr(msg, "bad --init 'a:x'"),
	   "--init refuses kinds the VMM writes itself: %s", msg);
	ok(parse(&o, msg, 5, nocolon) < 0 && strstr(msg, "want K:VALUE"), "--init without K: %s", msg);
	ok(parse(&o, msg, 6, standby) == 0 && o.standby, "--standby with --restore and --control-fd");
	ok(parse(&o, msg, 6, sb_boot) < 0 && strstr(msg, "--standby needs --restore"), "--standby on a boot: %s", msg);
	ok(parse(&o, msg, 4, sb_noctl) < 0 && strstr(msg, "--control-fd"), "--standby without go's fd: %s", msg);
	ok(parse(&o, msg, 4, nosnap) == 0 && o.no_snapshots, "--no-snapshots");
	ok(parse(&o, msg, 8, nosnap_to) < 0 && strstr(msg, "--no-snapshots cannot go with"), "--no-snapshots with --snapshot-to: %s", msg);
	ok(parse(&o, msg, 7, egress) == 0 && !strcmp(o.egress, "allowlist:127.0.0.1/32") && o.egress_mtu == 1500,
	   "--egress POLICY --egress-mtu N");
	ok(parse(&o, msg, 5, egress_off) == 0 && !o.egress && o.egress_mtu == 65520, "--egress off: no device; MTU 65520 by default");
	ok(parse(&o, msg, 7, egress_mtu) < 0 && strstr(msg, "--egress-mtu 65521: must be 1280..65520"), "--egress-mtu too big: %s", msg);
	ok(parse(&o, msg, 7, prof) == 0 && !strcmp(o.profile, "p.txt") && o.profile_us == 250,
	   "--profile FILE --profile-us N");
	ok(parse(&o, msg, 5, prof_def) == 0 && o.profile_us == 1000, "--profile samples every 1000 us by default");
	ok(parse(&o, msg, 7, prof_fast) < 0 && strstr(msg, "--profile-us 99: must be 100..1000000"),
	   "--profile-us below 100: %s", msg);
	ok(parse(&o, msg, 8, prof_paused) == 0 && o.profile_paused, "--profile-paused with --control-fd");
	ok(parse(&o, msg, 6, prof_paused_noctl) < 0 && strstr(msg, "--profile-paused needs"),
	   "--profile-paused without a control fd: %s", msg);
	ok(parse(&o, msg, 5, prof_empty) < 0 && strstr(msg, "--profile needs a file name"), "--profile '': %s", msg);
	ok(parse(&o, msg, 14, good) == 0 && !o.profile, "full option set parses; no profile unless asked");
	ok(o.memory_mib == 512 && o.vcpus == 4 && o.verbose && o.status_fd == 3, "values kept");
	ok(o.nr_disks == 2 && !strcmp(o.disks[0].path, "a.img") && !o.disks[0].ro &&
	   !strcmp(o.disks[1].path, "b.img") && o.disks[1].ro, "disks and :ro parsed");
	ok(parse(&o, msg, 5, v0) < 0 && strstr(msg, "--vcpus 0: must be 1..16"), "--vcpus 0: %s", msg);
	ok(parse(&o, msg, 5, v17) < 0 && strstr(msg, "--vcpus 17: must be 1..16"), "--vcpus 17: %s", msg);
	ok(parse(&o, msg, 5, m32) < 0 && strstr(msg, "--memory 32: must be 64"), "--memory 32: %s", msg);
	ok(parse(&o, msg, 3, nok) < 0 && strstr(msg, "--kernel or --restore is required"), "no kernel: %s", msg);
	ok(parse(&o, msg, 5, junk) < 0, "--vcpus 4x refused");
	ok(parse(&o, msg, 2, novalue) < 0 && strstr(msg, "needs a value"), "missing value: %s", msg);
	return done_testing();
}
