#ifndef SM_SNAPSHOT_SECTIONS_H
#define SM_SNAPSHOT_SECTIONS_H
/*
 * The payload size of every fixed-size vm.state section in this snapshot
 * format (SNAPSHOT_FORMAT, docs/snapshot-format.md).  Each saver pins its
 * struct to its size here with _Static_assert, so a struct that grows does
 * not build until this changes; changing a size here changes the format's
 * bytes: bump SNAPSHOT_FORMAT, the doc, and add the format's sizes to
 * tests/vectors/snapshot-sections.txt (test_snapshot_sections fails until
 * the current format's line there matches).
 */
/* Pin what a saver writes to its section's size. */
#define ST_PIN(type, size) _Static_assert(sizeof(type) == (size), #type " is not " #size " bytes (snapshot/sections.h)")

#define ST_SIZE_VM_IRQCHIP	520	/* struct kvm_irqchip */
#define ST_SIZE_VM_PIT		112	/* struct kvm_pit_state2 */
#define ST_SIZE_VM_CLOCK	48	/* struct kvm_clock_data */
#define ST_SIZE_VCPU_REGS	144	/* struct kvm_regs */
#define ST_SIZE_VCPU_SREGS	312	/* struct kvm_sregs */
#define ST_SIZE_VCPU_XSAVE	4096	/* struct kvm_xsave */
#define ST_SIZE_VCPU_XCRS	392	/* struct kvm_xcrs */
#define ST_SIZE_VCPU_LAPIC	1024	/* struct kvm_lapic_state */
#define ST_SIZE_VCPU_EVENTS	64	/* struct kvm_vcpu_events */
#define ST_SIZE_VCPU_MPSTATE	4	/* struct kvm_mp_state */
#define ST_SIZE_VCPU_DEBUGREGS	128	/* struct kvm_debugregs */
#define ST_SIZE_VCPU_MSRS_HDR	8	/* struct kvm_msrs; then 16-byte entries */
#define ST_SIZE_VCPU_MSR_ENTRY	16	/* struct kvm_msr_entry */
#define ST_SIZE_DEV_SERIAL	8216	/* struct serial_regs + SERIAL_RX_MAX */
#define ST_SIZE_DEV_VIRTIO	200	/* struct virtio_mmio_state */
#define ST_SIZE_DEV_VSOCK	4	/* u32 next host port */
#define ST_SIZE_DEV_NET		8	/* struct virtio_net_state (format 4) */
#define ST_SIZE_DEV_INITCHAN_HAVE 4	/* u32 */
#define ST_SIZE_DEV_INITCHAN_HDR 4
#define ST_SIZE_DEV_INITCHAN_PAYLOAD 4097
#endif
